"""Tests for the circuit IR: builders, constant folding and structural invariants.

The invariants (topological order, batches, depth, nonlinear depth, block labels)
are checked on small compiled circuits of every model family and strategy against
an independent computation with networkx.
"""

from __future__ import annotations

import functools
import math
from fractions import Fraction

import networkx as nx
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from circuitlab.circuit.ir import Circuit
from circuitlab.circuit.ops import ARITY, NONLINEAR, Op
from circuitlab.compile import STRATEGIES, compile_model
from circuitlab.errors import CompileError
from circuitlab.models import LINEAR_FAMILIES, build_model, free_model
from circuitlab.spec import load_spec, shipped_specs

LEAVES = (Op.INPUT, Op.CONST)


# ---------------------------------------------------------------------------
# Helpers: an independent interpreter and graph view of a circuit
# ---------------------------------------------------------------------------


def operands_of(c: Circuit, node: int) -> list[int]:
    ptr = c.fanin_ptr
    return [int(v) for v in c.fanin[ptr[node] : ptr[node + 1]]]


def interpret(c: Circuit, inputs: dict) -> list:
    """Evaluate every node over Fractions, one node at a time (reference semantics)."""
    values: list = [None] * c.num_nodes
    for name, ids in c.inputs.items():
        for node, value in zip(
            ids.ravel(), np.asarray(inputs[name], dtype=object).ravel(), strict=True
        ):
            values[int(node)] = Fraction(value)
    for node, value in c.const_value.items():
        values[node] = Fraction(int(value.numerator), int(value.denominator))
    rules = {
        Op.ADD: lambda a, b: a + b,
        Op.SUB: lambda a, b: a - b,
        Op.MUL: lambda a, b: a * b,
        Op.AND: lambda a, b: a * b,
        Op.OR: lambda a, b: a + b - a * b,
        Op.XOR: lambda a, b: a + b - 2 * a * b,
        Op.NEG: lambda a: -a,
        Op.NOT: lambda a: 1 - a,
        Op.RELU: lambda a: max(a, Fraction(0)),
        Op.STEP: lambda a: Fraction(int(a > 0)),
        Op.SUM: lambda *terms: sum(terms, Fraction(0)),
    }
    for node in range(c.num_nodes):
        op = Op(int(c.op[node]))
        if op in LEAVES:
            continue
        values[node] = rules[op](*(values[k] for k in operands_of(c, node)))
    return values


def circuit_graph(c: Circuit) -> nx.DiGraph:
    """Return the DAG with an edge operand -> gate for every operand slot."""
    graph = nx.DiGraph()
    graph.add_nodes_from(range(c.num_nodes))
    ptr = c.fanin_ptr
    fanin = c.fanin
    for node in range(c.num_nodes):
        for operand in fanin[ptr[node] : ptr[node + 1]]:
            graph.add_edge(int(operand), node)
    return graph


def reference_depths(c: Circuit, graph: nx.DiGraph) -> tuple[np.ndarray, np.ndarray]:
    """Return (depth, nonlinear depth) of every node, by a DP in networkx order."""
    depth = np.zeros(c.num_nodes, dtype=np.int64)
    nonlinear = np.zeros(c.num_nodes, dtype=np.int64)
    nonlinear_ops = {int(op) for op in NONLINEAR}
    for node in nx.topological_sort(graph):
        predecessors = list(graph.predecessors(node))
        if not predecessors:
            continue
        weight = 1 if int(c.op[node]) in nonlinear_ops else 0
        depth[node] = 1 + max(depth[p] for p in predecessors)
        nonlinear[node] = weight + max(nonlinear[p] for p in predecessors)
    return depth, nonlinear


# ---------------------------------------------------------------------------
# Compiled circuits of every family and strategy
# ---------------------------------------------------------------------------


def _valid_strategies(model) -> tuple[str, ...]:
    if getattr(model, "is_multilayer", False):
        return tuple(s for s in STRATEGIES if s != "tree")
    return STRATEGIES if model.is_linear else ("chain",)


def _circuit_cases() -> list:
    cases = []
    for name in shipped_specs():
        model = build_model(load_spec(name))
        for strategy in _valid_strategies(model):
            outputs = "final" if strategy == "tree" else "all"
            cases.append(("spec", name, 0, 0, strategy, outputs, True, "structured", 6))
            if model.family == "pd":
                cases.append(
                    ("spec", name, 0, 0, strategy, outputs, True, "monomial", 6)
                )
        cases.append(
            (
                "spec",
                name,
                0,
                0,
                _valid_strategies(model)[-1],
                "final",
                False,
                "structured",
                5,
            )
        )
        if not model.is_linear:
            # Long enough for the chain tiling to reach its steady state, but
            # shorter for large generated specs to keep the networkx check fast.
            n = 40 if model.state_dim <= 8 else 12
            cases.append(("spec", name, 0, 0, "chain", "all", True, "structured", n))
            cases.append(("spec", name, 0, 0, "chain", "all", False, "structured", n))
    for family in LINEAR_FAMILIES:
        dim, rank = (3, 2) if family == "dplr" else (2, 1)
        for strategy in STRATEGIES:
            outputs = "final" if strategy == "tree" else "all"
            cases.append(
                ("free", family, dim, rank, strategy, outputs, True, "structured", 5)
            )
        if family == "pd":
            cases.append(
                ("free", family, dim, rank, "sklansky", "all", True, "monomial", 5)
            )
    return cases


CIRCUIT_CASES = _circuit_cases()


def _case_id(case) -> str:
    kind, name, dim, rank, strategy, outputs, fold, pd_combine, n = case
    label = name if kind == "spec" else f"{name}-free-d{dim}-r{rank}"
    fold_label = "fold" if fold else "nofold"
    return f"{label}-{strategy}-{outputs}-{fold_label}-{pd_combine}-n{n}"


@functools.cache
def compiled(case) -> Circuit:
    kind, name, dim, rank, strategy, outputs, fold, pd_combine, n = case
    if kind == "spec":
        model = build_model(load_spec(name))
    else:
        model = free_model(name, dim, rank)
    return compile_model(
        model, n, strategy, outputs=outputs, fold=fold, pd_combine=pd_combine
    )


@functools.cache
def graph_and_depths(case):
    c = compiled(case)
    graph = circuit_graph(c)
    return graph, reference_depths(c, graph)


circuit_cases = pytest.mark.parametrize("case", CIRCUIT_CASES, ids=_case_id)


@circuit_cases
def test_topological_order(case):
    c = compiled(case)
    ptr = c.fanin_ptr.astype(np.int64)
    assert ptr[0] == 0
    assert ptr[-1] == c.num_edges
    assert (np.diff(ptr) >= 0).all()
    gate_of_edge = np.repeat(np.arange(c.num_nodes), np.diff(ptr))
    assert (c.fanin < gate_of_edge).all()
    assert (c.fanin >= 0).all()


@circuit_cases
def test_operand_counts_match_arity(case):
    c = compiled(case)
    counts = np.diff(c.fanin_ptr)
    for op, arity in ARITY.items():
        mask = c.op == op
        if arity >= 0:
            assert (counts[mask] == arity).all(), op.name
        else:
            assert (counts[mask] >= 1).all(), op.name


@circuit_cases
def test_batches_share_opcode_and_are_independent(case):
    c = compiled(case)
    starts = c.batch_starts
    assert starts[0] == 0
    assert (np.diff(starts) > 0).all()
    assert starts[-1] < c.num_nodes
    ends = np.append(starts[1:], c.num_nodes)
    ptr = c.fanin_ptr
    for start, end in zip(starts, ends, strict=True):
        assert (c.op[start:end] == c.op[start]).all(), f"batch {start}:{end}"
        operands = c.fanin[ptr[start] : ptr[end]]
        assert (operands < start).all(), f"batch {start}:{end} reads itself"


@circuit_cases
def test_depth_matches_networkx(case):
    c = compiled(case)
    graph, (depth, _) = graph_and_depths(case)
    np.testing.assert_array_equal(c.depth, depth)
    assert int(c.depth.max()) == nx.dag_longest_path_length(graph)
    assert c.max_depth() == int(depth[c.output_ids()].max())


@circuit_cases
def test_nonlinear_depth_matches_networkx(case):
    c = compiled(case)
    _, (_, nonlinear) = graph_and_depths(case)
    np.testing.assert_array_equal(c.nonlinear_depth, nonlinear)


@circuit_cases
def test_block_labels_cover_gates(case):
    c = compiled(case)
    gates = ~np.isin(c.op, LEAVES)
    assert (c.block[gates] >= 0).all()
    assert (c.block[gates] < len(c.blocks)).all()
    assert (c.block[~gates] == -1).all()
    for block_id in np.unique(c.block[gates]):
        assert c.blocks.describe(int(block_id))


@circuit_cases
def test_leaves_and_constant_table(case):
    c = compiled(case)
    const_nodes = np.flatnonzero(c.op == Op.CONST)
    assert sorted(c.const_value) == const_nodes.tolist()
    values = [c.const_value[int(node)] for node in const_nodes]
    assert len(set(values)) == len(values), "a constant value has two nodes"
    input_nodes = np.concatenate([ids.ravel() for ids in c.inputs.values()])
    assert sorted(input_nodes.tolist()) == np.flatnonzero(c.op == Op.INPUT).tolist()
    assert c.num_gates == c.num_nodes - len(const_nodes) - len(input_nodes)


def test_chain_blocks_label_positions():
    c = compiled(("spec", "elman", 0, 0, "chain", "all", True, "structured", 40))
    states = c.outputs["state"]
    step_kind = c.blocks.kinds.index("step")
    for t in range(states.shape[0]):
        blocks = c.block[states[t]]
        assert (c.blocks.kind[blocks] == step_kind).all()
        assert (c.blocks.index[blocks] == t).all()


def test_network_blocks_label_combines_and_readout():
    c = compiled(("spec", "pd", 0, 0, "sklansky", "all", True, "structured", 6))
    kinds = {c.blocks.kinds[k] for k in c.blocks.kind[np.unique(c.block[c.block >= 0])]}
    assert {"step", "combine", "apply", "readout"} <= kinds
    combine_kind = c.blocks.kinds.index("combine")
    combines = c.blocks.kind == combine_kind
    assert (c.blocks.slot[combines] >= 0).all()
    assert (c.blocks.index[combines] >= 1).all()
    readout_kind = c.blocks.kinds.index("readout")
    assert (c.blocks.kind[c.block[c.outputs["accept"]]] == readout_kind).all()


# ---------------------------------------------------------------------------
# Builder methods
# ---------------------------------------------------------------------------


def test_docstring_example():
    c = Circuit()
    x = c.add_input("x", (2,))
    y = c.mul(x[0], c.add(x[1], c.const(1)))
    c.set_output("y", y)
    assert (c.num_gates, c.max_depth()) == (2, 2)
    assert interpret(c, {"x": [3, 4]})[int(y)] == 15


BINARY_BUILDERS = [
    ("add", Op.ADD, lambda a, b: a + b),
    ("sub", Op.SUB, lambda a, b: a - b),
    ("mul", Op.MUL, lambda a, b: a * b),
    ("logical_and", Op.AND, lambda a, b: a * b),
    ("logical_or", Op.OR, lambda a, b: a + b - a * b),
    ("logical_xor", Op.XOR, lambda a, b: a + b - 2 * a * b),
]

UNARY_BUILDERS = [
    ("neg", Op.NEG, lambda a: -a),
    ("relu", Op.RELU, lambda a: max(a, 0)),
    ("step", Op.STEP, lambda a: Fraction(int(a > 0))),
    ("logical_not", Op.NOT, lambda a: 1 - a),
]


@pytest.mark.parametrize("method, op, rule", BINARY_BUILDERS)
def test_binary_builder_appends_one_gate(method, op, rule):
    c = Circuit()
    x = c.add_input("x", (2,))
    node = int(getattr(c, method)(x[0], x[1]))
    assert c.num_gates == 1
    assert c.op[node] == op
    assert operands_of(c, node) == [int(x[0]), int(x[1])]
    assert c.depth[node] == 1
    for a, b in [(0, 0), (0, 1), (1, 0), (1, 1)]:
        assert interpret(c, {"x": [a, b]})[node] == rule(a, b)


@pytest.mark.parametrize("method, op, rule", UNARY_BUILDERS)
def test_unary_builder_appends_one_gate(method, op, rule):
    c = Circuit()
    x = c.add_input("x", ())
    node = int(getattr(c, method)(x))
    assert c.num_gates == 1
    assert c.op[node] == op
    assert operands_of(c, node) == [int(x)]
    expected_nonlinear = 1 if op in NONLINEAR else 0
    assert c.nonlinear_depth[node] == expected_nonlinear
    for value in (Fraction(-3, 2), 0, 1, Fraction(5, 3)):
        if method == "logical_not" and value not in (0, 1):
            continue
        assert interpret(c, {"x": value})[node] == rule(Fraction(value))


def test_builder_broadcasts_numpy_style():
    c = Circuit()
    row = c.add_input("row", (3,))
    column = c.add_input("column", (2, 1))
    out = c.add(row, column)
    assert out.shape == (2, 3)
    assert c.num_gates == 6
    values = interpret(c, {"row": [1, 2, 3], "column": [[10], [20]]})
    assert [[values[int(v)] for v in r] for r in out] == [[11, 12, 13], [21, 22, 23]]


@pytest.mark.parametrize("terms", [1, 2, 3, 4, 5, 7, 8, 9, 16, 17])
def test_sum_is_balanced_tree(terms):
    c = Circuit()
    x = c.add_input("x", (terms,))
    total = int(c.sum(x))
    assert c.num_gates == terms - 1
    assert int(c.depth[total]) == math.ceil(math.log2(terms))
    assert (c.op[c.num_nodes - c.num_gates :] == Op.ADD).all()
    values = interpret(c, {"x": list(range(1, terms + 1))})
    assert values[total] == terms * (terms + 1) // 2


def test_sum_along_axis_and_empty_axis():
    c = Circuit()
    x = c.add_input("x", (2, 3))
    rows = c.sum(x, axis=1)
    columns = c.sum(x, axis=0)
    empty = c.sum(np.zeros((4, 0), dtype=np.int64))
    values = interpret(c, {"x": [[1, 2, 3], [4, 5, 6]]})
    assert [values[int(v)] for v in rows] == [6, 15]
    assert [values[int(v)] for v in columns] == [5, 7, 9]
    assert empty.shape == (4,)
    assert (empty == c.zero_node).all()


def _fraction_matrix(values) -> np.ndarray:
    return np.array([[Fraction(v) for v in row] for row in values], dtype=object)


def test_dot_matmul_vecmat_linear_values():
    a_values = _fraction_matrix([[1, "1/2", -2], [3, 0, "2/3"]])
    b_values = _fraction_matrix([[2, -1], ["1/3", 4], [0, "5/2"]])
    v_values = np.array([Fraction(1, 2), Fraction(-3), Fraction(2)], dtype=object)
    c = Circuit()
    a = c.add_input("a", (2, 3))
    b = c.add_input("b", (3, 2))
    v = c.add_input("v", (3,))
    product = c.matmul(a, b)
    row_product = c.vecmat(v, b)
    inner = c.dot(v, a[0])
    weights = [[1, "-1/2", 0], [0, 0, 3]]
    affine = c.linear(weights, v, bias=["1/4", -1])
    values = interpret(c, {"a": a_values, "b": b_values, "v": v_values})

    def read(ids):
        return np.vectorize(lambda node: values[int(node)], otypes=[object])(ids)

    assert (read(product) == a_values.dot(b_values)).all()
    assert (read(row_product) == v_values.dot(b_values)).all()
    assert read(inner) == v_values.dot(a_values[0])
    expected = _fraction_matrix(weights).dot(v_values) + np.array(
        [Fraction(1, 4), Fraction(-1)], dtype=object
    )
    assert (read(affine) == expected).all()


def test_linear_skips_zero_and_one_weights():
    c = Circuit()
    x = c.add_input("x", (2,))
    y = c.linear([[0, 1], [2, 0]], x)
    # Only 2 * x[0] needs a gate; 0 * x folds to 0, 1 * x to x, and + 0 to the
    # other operand.
    assert c.num_gates == 1
    assert int(y[0]) == int(x[1])
    assert c.op[int(y[1])] == Op.MUL


def test_activation_by_name():
    c = Circuit()
    x = c.add_input("x", (2,))
    assert (c.activation("identity", x) == x).all()
    expected = {
        "relu": Op.RELU,
        "step": Op.STEP,
        "tanh": Op.TANH,
        "sigmoid": Op.SIGMOID,
    }
    for name, op in expected.items():
        nodes = c.activation(name, x)
        assert (c.op[nodes] == op).all(), name
        assert (c.nonlinear_depth[nodes] == 1).all(), name


def test_float_only_gates_are_not_folded():
    c = Circuit()
    node = int(c.activation("tanh", c.const(0)))
    assert c.op[node] == Op.TANH
    assert c.num_gates == 1


# ---------------------------------------------------------------------------
# Constant folding
# ---------------------------------------------------------------------------

# (builder, left, right, expected): operands "x" (an input), or a constant; the
# expected result is "x", "gate" (a new gate), or a constant value.
BINARY_FOLDS = [
    ("mul", "x", 0, 0),
    ("mul", 0, "x", 0),
    ("mul", "x", 1, "x"),
    ("mul", 1, "x", "x"),
    ("mul", "x", 2, "gate"),
    ("mul", "x", "x", "gate"),
    ("add", "x", 0, "x"),
    ("add", 0, "x", "x"),
    ("add", "x", 1, "gate"),
    ("sub", "x", 0, "x"),
    ("sub", 0, "x", "gate"),
    ("sub", "x", "x", "gate"),
    ("logical_and", "x", 0, 0),
    ("logical_and", 0, "x", 0),
    ("logical_and", "x", 1, "x"),
    ("logical_and", 1, "x", "x"),
    ("logical_or", "x", 1, 1),
    ("logical_or", 1, "x", 1),
    ("logical_or", "x", 0, "x"),
    ("logical_or", 0, "x", "x"),
    ("logical_xor", "x", 0, "x"),
    ("logical_xor", 0, "x", "x"),
    ("logical_xor", "x", 1, "gate"),
    ("add", "1/2", "1/3", Fraction(5, 6)),
    ("sub", 2, "1/2", Fraction(3, 2)),
    ("mul", "2/3", "-3/4", Fraction(-1, 2)),
    ("mul", 3, "1/3", 1),
    ("logical_and", 1, 1, 1),
    ("logical_or", 0, 0, 0),
    ("logical_xor", 1, 1, 0),
    ("logical_xor", 1, 0, 1),
]

UNARY_FOLDS = [
    ("neg", "1/2", Fraction(-1, 2)),
    ("neg", 0, 0),
    ("logical_not", 0, 1),
    ("logical_not", 1, 0),
    ("relu", -3, 0),
    ("relu", "5/2", Fraction(5, 2)),
    ("step", 0, 0),
    ("step", "1/3", 1),
    ("step", -1, 0),
]


def _operand(c: Circuit, x: int, spec) -> int:
    return x if spec == "x" else c.const(spec)


@pytest.mark.parametrize("method, left, right, expected", BINARY_FOLDS)
def test_binary_folding_on(method, left, right, expected):
    c = Circuit(fold=True)
    x = int(c.add_input("x", ()))
    a, b = _operand(c, x, left), _operand(c, x, right)
    result = int(getattr(c, method)(a, b))
    if expected == "gate":
        assert c.num_gates == 1
        assert operands_of(c, result) == [a, b]
    elif expected == "x":
        assert result == x
        assert c.num_gates == 0
    else:
        assert c.num_gates == 0
        assert c.op[result] == Op.CONST
        assert c.const_value[result] == Fraction(expected)


@pytest.mark.parametrize("method, left, right, expected", BINARY_FOLDS)
def test_binary_folding_off(method, left, right, expected):
    c = Circuit(fold=False)
    x = int(c.add_input("x", ()))
    a, b = _operand(c, x, left), _operand(c, x, right)
    result = int(getattr(c, method)(a, b))
    assert c.num_gates == 1
    assert c.op[result] != Op.CONST
    assert operands_of(c, result) == [a, b]
    if expected not in ("x", "gate"):
        assert interpret(c, {"x": 0})[result] == Fraction(expected)


@pytest.mark.parametrize("method, operand, expected", UNARY_FOLDS)
def test_unary_folding(method, operand, expected):
    folded = Circuit(fold=True)
    node = int(getattr(folded, method)(folded.const(operand)))
    assert folded.num_gates == 0
    assert folded.const_value[node] == Fraction(expected)
    unfolded = Circuit(fold=False)
    node = int(getattr(unfolded, method)(unfolded.const(operand)))
    assert unfolded.num_gates == 1
    assert interpret(unfolded, {})[node] == Fraction(expected)


def test_folding_is_elementwise():
    c = Circuit()
    x = c.add_input("x", (3,))
    out = c.mul(x, c.consts([0, 1, 2]))
    assert int(out[0]) == c.zero_node
    assert int(out[1]) == int(x[1])
    assert c.op[int(out[2])] == Op.MUL
    assert c.num_gates == 1


def test_fold_flag_recorded_in_meta():
    assert Circuit(fold=True).meta["folding"] is True
    assert Circuit(fold=False).meta["folding"] is False


# ---------------------------------------------------------------------------
# Constants
# ---------------------------------------------------------------------------


def test_constants_are_deduplicated():
    c = Circuit()
    zero = c.const(0)
    assert c.const("0") == zero
    assert c.const("0/7") == zero
    assert c.const(Fraction(0)) == zero
    assert c.zero_node == zero
    half = c.const("1/2")
    assert c.const("2/4") == half
    assert c.const(Fraction(1, 2)) == half
    one = c.const(1)
    assert c.one_node == one
    assert len({zero, half, one, c.const(-1)}) == 4
    assert c.num_consts == 4
    grid = c.consts([[0, "1/2"], [1, "3/6"]])
    assert grid.tolist() == [[zero, half], [one, half]]
    assert c.num_consts == 4
    assert c.num_gates == 0


@given(
    st.lists(
        st.fractions(min_value=-5, max_value=5, max_denominator=6),
        min_size=1,
        max_size=30,
    )
)
def test_one_node_per_distinct_constant(values):
    c = Circuit()
    nodes = [c.const(v) for v in values]
    assert c.num_consts == len(set(values))
    for value, node in zip(values, nodes, strict=True):
        assert c.const_value[node] == value
        assert c.const(value) == node


def test_const_rejects_float():
    c = Circuit()
    with pytest.raises(ValueError, match="1/2"):
        c.const(0.5)


# ---------------------------------------------------------------------------
# Structure, errors and storage
# ---------------------------------------------------------------------------


def test_duplicate_input_group_rejected():
    c = Circuit()
    c.add_input("x", (2,))
    with pytest.raises(CompileError, match="'x'"):
        c.add_input("x", (3,))


def test_append_gates_rejects_future_operand():
    c = Circuit()
    c.add_input("x", (2,))
    with pytest.raises(CompileError, match="does not exist"):
        c.append_gates(Op.ADD, [[0, 5]])


def test_append_varargs_sum_gates():
    c = Circuit()
    x = c.add_input("x", (4,))
    sums = c.append_varargs(Op.SUM, [1, 3], [x[0], x[1], x[2], x[3]])
    assert (c.op[sums] == Op.SUM).all()
    assert operands_of(c, int(sums[1])) == [int(x[1]), int(x[2]), int(x[3])]
    values = interpret(c, {"x": [1, 2, 3, 4]})
    assert [values[int(s)] for s in sums] == [1, 9]
    with pytest.raises(CompileError, match="at least one operand"):
        c.append_varargs(Op.SUM, [0], [])


def test_growth_past_initial_capacity():
    c = Circuit(capacity=16, edge_capacity=16)
    x = c.add_input("x", ())
    node = x
    for _ in range(1000):
        node = c.add(node, x)
    c.set_output("y", node)
    assert c.num_gates == 1000
    assert c.max_depth() == 1000
    assert interpret(c, {"x": 2})[int(node)] == 2002
    c.trim()
    assert len(c.op) == c.num_nodes
    assert c.max_depth() == 1000
    extra = c.add(node, x)
    assert c.depth[int(extra)] == 1001


def test_max_depth_without_outputs_is_zero():
    c = Circuit()
    x = c.add_input("x", (2,))
    c.add(x[0], x[1])
    assert c.max_depth() == 0
    assert c.output_ids().size == 0


def test_depth_and_nonlinear_depth_at_append():
    c = Circuit()
    x = c.add_input("x", (2,))
    a = c.relu(c.add(x[0], x[1]))
    b = c.mul(a, x[0])
    d = c.step(c.sub(b, c.relu(a)))
    assert [int(c.depth[v]) for v in (a, b, d)] == [2, 3, 5]
    assert [int(c.nonlinear_depth[v]) for v in (a, b, d)] == [1, 1, 3]


def test_block_scope_scalar_and_nesting():
    c = Circuit()
    x = c.add_input("x", (2,))
    with c.block_scope("step", 3) as outer:
        first = c.add(x[0], x[1])
        with c.block_scope("combine", 2, layer=1, slot=5) as inner:
            second = c.mul(first, first)
        third = c.neg(first)
    fourth = c.sub(x[0], x[1])
    assert c.block[int(first)] == outer
    assert c.block[int(second)] == inner
    assert c.block[int(third)] == outer
    assert c.block[int(fourth)] == -1
    assert c.blocks.describe(outer) == "step 3"
    assert c.blocks.describe(inner) == "layer 1 combine 2 slot 5"


def test_block_scope_one_block_per_row():
    c = Circuit()
    x = c.add_input("x", (3, 2))
    with c.block_scope("step", np.array([7, 8, 9])) as ids:
        products = c.mul(x, x)
        totals = c.sum(products, axis=1)
    assert len(ids) == 3
    for row in range(3):
        assert (c.block[products[row]] == ids[row]).all()
        assert c.block[int(totals[row])] == ids[row]
    assert [c.blocks.describe(int(b)) for b in ids] == ["step 7", "step 8", "step 9"]


def test_block_scope_row_mismatch_rejected():
    c = Circuit()
    x = c.add_input("x", (2, 2))
    with c.block_scope("step", np.arange(3)):
        with pytest.raises(CompileError, match="3 rows"):
            c.mul(x, x)
