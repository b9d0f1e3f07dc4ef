"""Tests for compile_model: exactness against the reference semantics, depth growth,
gate counts per combine and argument checking.

Every compiled circuit is evaluated and compared with the model's own
``reference_states`` (a plain loop over exact rationals that never touches circuit
code). Compiled circuits do not depend on the input values, so each is built once
per module and reused across hypothesis examples.
"""

from __future__ import annotations

import functools
import math
from collections import Counter
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from circuitlab.circuit.ir import Circuit
from circuitlab.circuit.ops import Op
from circuitlab.compile import STRATEGIES, compile_model
from circuitlab.compile.affine import AffineMaps, apply, combine
from circuitlab.errors import CompileError, EvaluationError
from circuitlab.evaluate import evaluate
from circuitlab.models import LINEAR_FAMILIES, build_model, free_model
from circuitlab.spec import load_spec, parse_spec, shipped_specs

N_VALUES = (1, 2, 3, 7, 8, 9, 16, 17)
MAX_N = max(N_VALUES)
# Input values as a user writes them: integers and "p/q" strings.
RATIONAL_TEXT = (-2, -1, 0, 1, "1/2", "-3/2")
RATIONALS = tuple(Fraction(v) for v in RATIONAL_TEXT)
ARITHMETIC = ("MUL", "ADD", "SUB", "NEG", "SUM")
SEEDS = st.integers(min_value=0, max_value=2**32 - 1)


@functools.cache
def spec_model(name: str):
    return build_model(load_spec(name))


@functools.cache
def compiled_spec(
    name, n, strategy, outputs="final", fold=True, pd_combine="structured"
):
    return compile_model(
        spec_model(name), n, strategy, outputs=outputs, fold=fold, pd_combine=pd_combine
    )


@functools.cache
def compiled_free(family, dim, rank, n, strategy, outputs="final", fold=True):
    model = free_model(family, dim, rank)
    return compile_model(model, n, strategy, outputs=outputs, fold=fold)


def valid_strategies(model) -> tuple[str, ...]:
    """Return the strategies that compile ``model`` with ``outputs="final"``.

    A multilayer network feeds every prefix state of an RNN sublayer to the next
    layer, so with more than one RNN sublayer it accepts every strategy but tree.
    """
    if getattr(model, "is_multilayer", False):
        rnn_layers = [layer for layer in model.layers if layer["kind"] == "rnn"]
        if len(rnn_layers) > 1:
            return tuple(s for s in STRATEGIES if s != "tree")
        return STRATEGIES
    return STRATEGIES if model.is_linear else ("chain",)


def output_modes(strategy: str) -> tuple[str, ...]:
    return ("final",) if strategy == "tree" else ("final", "all")


def gate_counts(c: Circuit, start: int = 0) -> Counter:
    """Count the operation gates from node ``start`` on, by opcode name."""
    ops = c.op[start:]
    return Counter(Op(int(o)).name for o in ops if o not in (Op.INPUT, Op.CONST))


def arithmetic(counts: Counter) -> int:
    return sum(counts[name] for name in ARITHMETIC)


def slice_inputs(inputs: dict, n: int) -> dict:
    """Keep the first n positions of free-model inputs drawn for MAX_N positions."""
    return {
        name: values if name == "h0" else values[:n] for name, values in inputs.items()
    }


# ---------------------------------------------------------------------------
# Spec models: every shipped spec, every valid strategy, exact over Q
# ---------------------------------------------------------------------------


#: Specs whose unfolded circuits take seconds each to build and evaluate (the stack
#: RNN has 249 hidden units); they run with folding only here, and
#: tests/test_constructions.py checks them further.
FOLDED_ONLY = {"cvp-stack"}


def _spec_cases() -> list:
    cases = []
    for name in shipped_specs():
        model = spec_model(name)
        combines = (
            ("structured", "monomial") if model.family == "pd" else ("structured",)
        )
        folds = (True,) if name in FOLDED_ONLY else (True, False)
        for strategy in valid_strategies(model):
            for outputs in output_modes(strategy):
                for fold in folds:
                    for pd_combine in combines:
                        cases.append((name, strategy, outputs, fold, pd_combine))
    return cases


@pytest.mark.parametrize(
    "name, strategy, outputs, fold, pd_combine",
    _spec_cases(),
    ids=lambda v: (
        {True: "fold", False: "nofold"}.get(v, v) if isinstance(v, bool) else v
    ),
)
@given(data=st.data())
def test_spec_model_matches_reference(name, strategy, outputs, fold, pd_combine, data):
    model = spec_model(name)
    tokens = data.draw(
        st.lists(st.sampled_from(model.spec.alphabet), min_size=MAX_N, max_size=MAX_N),
        label="tokens",
    )
    for n in N_VALUES:
        c = compiled_spec(name, n, strategy, outputs, fold, pd_combine)
        prefix = tokens[:n]
        result = evaluate(c, model.encode(prefix))
        reference = model.reference_states(prefix)
        expected = reference if outputs == "all" else reference[-1:]
        assert result["state"].shape == expected.shape, f"n={n}"
        assert (result["state"] == expected).all(), f"n={n} tokens={prefix}"
        y, accepted = model.reference_readout(reference[-1])
        assert result["readout"].tolist() == [y], f"n={n} tokens={prefix}"
        assert result["accept"].tolist() == [int(accepted)], f"n={n} tokens={prefix}"


def test_spec_readout_accepts_documented_language():
    """Check that shipped specs accept the inputs their descriptions state."""
    cases = {
        "elman": [("1", True), ("11", False), ("0100", True), ("0", False)],
        "deltanet": [("1", True), ("1011", True), ("11", False)],
        "pd": [
            ("e", True),
            ("a", False),
            ("aaaaa", True),
            ("bb", True),
            ("ab", True),
            ("ba", False),
        ],
        "dense": [("b", True), ("a", False), ("aaa", True), ("abab", False)],
        "diagonal": [("a", True), ("ab", False), ("aac", True)],
        "dplr": [("s", True), ("sr", False), ("rsn", True)],
        "rwkv7": [("a", True), ("ab", False), ("ba", True)],
        "mlp-rnn": [("a", True), ("ab", False), ("aab", True)],
        "gated-deltanet": [("1", True), ("1r", False), ("1r1", True)],
        "elman-2layer": [("1", True), ("11", True), ("10", False), ("0", False)],
        "deltanet-2layer": [("1", True), ("11", True), ("10", False), ("0", False)],
        "pd-2layer": [("e", False), ("a", True), ("ab", False), ("ae", True)],
    }
    for name, strings in cases.items():
        model = spec_model(name)
        for text, expected in strings:
            tokens = model.tokenize(text)
            c = compiled_spec(name, len(tokens), valid_strategies(model)[-1])
            accepted = evaluate(c, model.encode(tokens))["accept"].item()
            assert accepted == int(expected), f"{name} on {text!r}"


# ---------------------------------------------------------------------------
# Free models: every linear family, rational inputs
# ---------------------------------------------------------------------------


def _free_models() -> list[tuple[str, int, int]]:
    models = []
    for family in LINEAR_FAMILIES:
        for dim in (1, 2, 3):
            ranks = (1, 2) if family == "dplr" else (1,)
            models.extend((family, dim, rank) for rank in ranks)
    return models


FREE_MODELS = _free_models()


@pytest.mark.parametrize("strategy", STRATEGIES)
@pytest.mark.parametrize("family, dim, rank", FREE_MODELS)
@given(seed=SEEDS)
def test_free_model_matches_reference(family, dim, rank, strategy, seed):
    model = free_model(family, dim, rank)
    rng = np.random.default_rng(seed)
    inputs = model.random_inputs(MAX_N, rng, values=RATIONAL_TEXT)
    for n in N_VALUES:
        given_inputs = slice_inputs(inputs, n)
        reference = model.reference_states(given_inputs)
        for outputs in output_modes(strategy):
            for fold in (True, False):
                c = compiled_free(family, dim, rank, n, strategy, outputs, fold)
                state = evaluate(c, given_inputs)["state"]
                expected = reference if outputs == "all" else reference[-1:]
                assert state.shape == expected.shape
                assert (state == expected).all(), f"n={n} outputs={outputs} fold={fold}"


@pytest.mark.parametrize("strategy", ["chain", "tree", "sklansky", "brent-kung"])
@pytest.mark.parametrize("family", LINEAR_FAMILIES)
@given(seed=SEEDS, dim=st.sampled_from((1, 2, 3)), n=st.sampled_from(N_VALUES))
def test_free_model_float_domain_close(family, strategy, seed, dim, n):
    model = free_model(family, dim, 1)
    inputs = model.random_inputs(n, np.random.default_rng(seed), values=RATIONALS)
    outputs = "final" if strategy == "tree" else "all"
    c = compiled_free(family, dim, 1, n, strategy, outputs)
    state = evaluate(c, inputs, domain="float")["state"]
    reference = model.reference_states(inputs)
    expected = np.array(reference if outputs == "all" else reference[-1:], dtype=float)
    assert state.dtype == np.float64
    np.testing.assert_allclose(state, expected, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("strategy", ["chain", "tree", "sklansky", "kogge-stone"])
@pytest.mark.parametrize("family", LINEAR_FAMILIES)
@given(seed=SEEDS, dim=st.sampled_from((1, 2, 3)), n=st.sampled_from(N_VALUES))
def test_free_model_integer_domains(family, strategy, seed, dim, n):
    model = free_model(family, dim, 1)
    integers = tuple(range(-3, 4))
    inputs = model.random_inputs(n, np.random.default_rng(seed), values=integers)
    outputs = "final" if strategy == "tree" else "all"
    c = compiled_free(family, dim, 1, n, strategy, outputs)
    reference = model.reference_states(inputs)
    expected = reference if outputs == "all" else reference[-1:]
    exact = evaluate(c, inputs, domain="Z")["state"]
    assert exact.tolist() == [[int(v) for v in row] for row in expected]
    modular = evaluate(c, inputs, domain="Zm", modulus=7)["state"]
    assert modular.tolist() == [[int(v) % 7 for v in row] for row in expected]


def test_free_model_reference_accepts_rational_strings():
    model = free_model("diagonal", 2)
    inputs = model.random_inputs(
        3, np.random.default_rng(0), values=(-2, "1/2", "-3/2")
    )
    reference = model.reference_states(inputs)
    c = compiled_free("diagonal", 2, 1, 3, "tree")
    assert (evaluate(c, inputs)["state"] == reference[-1:]).all()


def test_free_model_inputs_and_shapes():
    model = free_model("dplr", 3, 2)
    c = compiled_free("dplr", 3, 2, 4, "sklansky", "all")
    assert set(c.inputs) == {"h0", "d", "u", "v", "b"}
    assert c.inputs["u"].shape == (4, 3, 2)
    assert c.outputs["state"].shape == (4, 3)
    assert set(c.outputs) == {"state"}
    assert model.has_readout is False
    with pytest.raises(EvaluationError, match="no alphabet"):
        model.tokenize("ab")


# ---------------------------------------------------------------------------
# Depth growth
# ---------------------------------------------------------------------------

# Doublings n = 2^k -> 2^(k+1) checked for a constant depth increment. Below
# k = 5 some circuits are still in a transient (DPLR ranks growing until the maps
# turn dense, or one coordinate's depth overtaking another's).
STEADY_K = range(5, 10)


def tree_depth_increments(compile_at) -> list[int]:
    depths = [
        compile_at(2**k).max_depth() for k in range(STEADY_K.start, STEADY_K.stop + 1)
    ]
    return np.diff(depths).tolist()


def linear_spec_names() -> list[str]:
    return [name for name in shipped_specs() if spec_model(name).is_linear]


@pytest.mark.parametrize("fold", [True, False], ids=["fold", "nofold"])
@pytest.mark.parametrize("name", linear_spec_names())
def test_tree_depth_per_doubling_spec(name, fold):
    increments = tree_depth_increments(
        lambda n: compiled_spec(name, n, "tree", fold=fold)
    )
    assert len(set(increments)) == 1, increments
    assert 1 <= increments[0] <= 8


def expected_tree_increment(family: str, dim: int) -> int:
    """Depth added per level of the tree: the bias path of one combine.

    diag: ``b1 d2 + b2`` is MUL then ADD. Dense (and DPLR, whose rank reaches D
    after a few levels): ``b1 A2 + b2`` is MUL, a sum of D terms, then ADD. PD
    with D > 1: ``b1`` moves through P2 (MUL and a sum of D terms), then MUL by d2
    and ADD. PD with D = 1 combines like a diagonal map.
    """
    log_dim = math.ceil(math.log2(dim))
    if family == "diagonal":
        return 2
    if family == "pd" and dim > 1:
        return 3 + log_dim
    return 2 + log_dim


@pytest.mark.parametrize("dim", [1, 2, 3])
@pytest.mark.parametrize("family", LINEAR_FAMILIES)
def test_tree_depth_per_doubling_free(family, dim):
    increments = tree_depth_increments(
        lambda n: compiled_free(family, dim, 1, n, "tree")
    )
    assert increments == [expected_tree_increment(family, dim)] * len(increments)


@pytest.mark.parametrize("strategy", STRATEGIES)
@pytest.mark.parametrize("name", linear_spec_names())
def test_linear_spec_nonlinear_depth_constant(name, strategy):
    for n in (1, 8, 64):
        outputs = "final" if strategy == "tree" else "all"
        c = compiled_spec(name, n, strategy, outputs)
        assert (c.nonlinear_depth[c.outputs["state"]] == 0).all()
        assert c.nonlinear_depth[c.outputs["accept"]].tolist() == [1]
        assert int(c.nonlinear_depth.max()) <= 1


@pytest.mark.parametrize("family", LINEAR_FAMILIES)
def test_free_model_nonlinear_depth_zero(family):
    for strategy in ("chain", "tree", "kogge-stone"):
        c = compiled_free(family, 2, 1, 32, strategy)
        assert int(c.nonlinear_depth.max()) == 0


# Depth added by one step of each shipped nonlinear spec with folding on. Elman:
# MUL by -1, ADD (row of W), ADD of W h and U x, RELU. MLP: MUL by -1, ADD twice
# (4 terms) and RELU in the hidden layer; the identity output layer folds away.
CHAIN_STEP_DEPTH = {"elman": 4, "mlp-rnn": 4}


@pytest.mark.parametrize("fold", [True, False], ids=["fold", "nofold"])
@pytest.mark.parametrize("name", sorted(CHAIN_STEP_DEPTH))
def test_chain_depth_grows_linearly(name, fold):
    ns = range(1, 13)
    circuits = [compiled_spec(name, n, "chain", "all", fold) for n in ns]
    depths = [c.max_depth() for c in circuits]
    state_depths = [int(c.depth[c.outputs["state"][-1]].max()) for c in circuits]
    increments = set(np.diff(state_depths).tolist())
    assert len(increments) == 1, state_depths
    assert len(set(np.diff(depths).tolist())) == 1, depths
    if fold:
        assert increments == {CHAIN_STEP_DEPTH[name]}
    for n, c in zip(ns, circuits, strict=True):
        nonlinear = c.nonlinear_depth[c.outputs["state"]]
        # Every step applies one ReLU layer, so h_t has nonlinear depth t.
        assert nonlinear.max(axis=1).tolist() == list(range(1, n + 1))
        assert c.nonlinear_depth[c.outputs["accept"]].tolist() == [n + 1]


def test_chain_million_steps_depth():
    small = [compiled_spec("elman", n, "chain").max_depth() for n in (1, 2, 3)]
    per_step = small[1] - small[0]
    assert small[2] - small[1] == per_step
    n = 1_000_000
    c = compile_model(spec_model("elman"), n, "chain")
    assert c.max_depth() == small[0] + (n - 1) * per_step
    assert int(c.nonlinear_depth[c.outputs["state"]].max()) == n
    assert c.meta["n"] == n
    del c


# ---------------------------------------------------------------------------
# Gate counts per combine (free mode)
# ---------------------------------------------------------------------------


def dplr_combine_counts(dim: int, r1: int, r2: int, unit_diagonal: bool) -> dict:
    """Gates of one DPLR combine of ranks r1 and r2 (r1 + r2 < D), by opcode.

    ``d1 d2``: D MUL. ``G = U2^T V1``: r1 r2 D MUL, r1 r2 (D - 1) ADD.
    ``W = d2 * V1 + V2 G``: D r1 + D r1 r2 MUL, D r1 (r2 - 1) + D r1 ADD.
    ``d1 * U2``: D r2 MUL. ``b1 (diag(d2) + U2 V2^T) + b2``: 2 D r2 + D MUL,
    r2 (D - 1) + D (r2 - 1) + 2 D ADD. With a unit diagonal (DeltaNet) the
    products with d1, d2 fold away: 2 D + D r1 + D r2 fewer MUL.
    """
    mul = dim * (2 + r1 + 3 * r2 + 2 * r1 * r2)
    add = (r1 * r2 + r2) * (2 * dim - 1) + dim
    if unit_diagonal:
        mul -= 2 * dim + dim * r1 + dim * r2
    return {"MUL": mul, "ADD": add}


def dense_combine_counts(dim: int) -> dict:
    return {"MUL": dim**3 + dim**2, "ADD": dim**3}


def to_dense_counts(dim: int, rank: int) -> dict:
    """Gates that turn one DPLR map into a dense one: ``U V^T`` then the diagonal."""
    return {"MUL": dim * dim * rank, "ADD": dim * dim * (rank - 1) + dim}


def expected_combine_counts(
    family: str, dim: int, pd_combine: str = "structured"
) -> dict:
    if family == "diagonal":
        return {"MUL": 2 * dim, "ADD": dim}
    if family == "dense":
        return dense_combine_counts(dim)
    if family == "pd" and pd_combine == "monomial":
        return {"MUL": dim**3 + 3 * dim**2, "ADD": dim**3}
    if family == "pd" and dim == 1:
        return {"AND": 1, "MUL": 2, "ADD": 1}
    if family == "pd":
        return {
            "AND": dim**3,
            "OR": dim**2 * (dim - 1),
            "MUL": 2 * dim**2 + 2 * dim,
            "ADD": 2 * dim**2 - dim,
        }
    if 2 < dim:
        return dplr_combine_counts(dim, 1, 1, unit_diagonal=family == "deltanet")
    counts = Counter(dense_combine_counts(dim))
    for _ in range(2):
        counts.update(to_dense_counts(dim, 1))
    return dict(counts)


def scratch_combine(family: str, dim: int, pd_combine: str = "structured") -> Counter:
    model = free_model(family, dim, 1)
    c = Circuit()
    maps = model.step_maps(c, model.add_inputs(c, 2))
    start = c.num_nodes
    combine(c, maps.take([0]), maps.take([1]), pd_combine)
    return gate_counts(c, start)


COMBINE_CASES = [(family, "structured") for family in LINEAR_FAMILIES] + [
    ("pd", "monomial")
]


@pytest.mark.parametrize("dim", [1, 2, 3, 4, 5])
@pytest.mark.parametrize("family, pd_combine", COMBINE_CASES)
def test_combine_gate_counts_by_opcode(family, pd_combine, dim):
    counts = scratch_combine(family, dim, pd_combine)
    expected = {
        op: k for op, k in expected_combine_counts(family, dim, pd_combine).items() if k
    }
    assert dict(counts) == expected


@pytest.mark.parametrize(
    "dim, r1, r2", [(3, 1, 1), (4, 1, 2), (4, 2, 1), (5, 2, 2), (6, 1, 3)]
)
def test_dplr_combine_counts_mixed_ranks(dim, r1, r2):
    c = Circuit()
    maps = []
    for index, rank in enumerate((r1, r2)):
        parts = {
            "d": c.add_input(f"d{index}", (1, dim)),
            "u": c.add_input(f"u{index}", (1, dim, rank)),
            "v": c.add_input(f"v{index}", (1, dim, rank)),
            "b": c.add_input(f"b{index}", (1, dim)),
        }
        maps.append(AffineMaps("dplr", parts))
    start = c.num_nodes
    result = combine(c, maps[0], maps[1])
    assert result.form == "dplr"
    assert result.rank == r1 + r2
    assert dict(gate_counts(c, start)) == dplr_combine_counts(dim, r1, r2, False)


@pytest.mark.parametrize("dim", [1, 2, 3])
@pytest.mark.parametrize("family", ["diagonal", "pd", "dense"])
def test_tree_size_is_steps_plus_combines(family, dim):
    """A tree over n maps of a closed form costs n - 1 combines and one apply."""
    n = 16
    c = compiled_free(family, dim, 1, n, "tree")
    model = free_model(family, dim, 1)
    scratch = Circuit()
    maps = model.step_maps(scratch, model.add_inputs(scratch, 1))
    start = scratch.num_nodes
    apply(scratch, model.initial_state(scratch)[None, :], maps)
    per_apply = gate_counts(scratch, start)
    per_combine = Counter(expected_combine_counts(family, dim))
    expected = Counter()
    for _ in range(n - 1):
        expected.update(per_combine)
    expected.update(per_apply)
    assert gate_counts(c) == +expected
    combine_kind = c.blocks.kinds.index("combine")
    in_combines = c.blocks.kind[c.block[c.block >= 0]] == combine_kind
    assert int(in_combines.sum()) == (n - 1) * sum(per_combine.values())


def test_step_map_gate_counts_free():
    """Free-mode gates per position that turn raw parameters into (d, U, V)."""
    expected = {
        "diagonal": {},
        "pd": {},
        "dense": {},
        "dplr": {},
        "deltanet": {"MUL": 3, "NEG": 3},
        "gated-deltanet": {"MUL": 6, "NEG": 3},
        "rwkv7": {"MUL": 3, "NEG": 3},
    }
    for family, counts in expected.items():
        model = free_model(family, 3, 1)
        c = Circuit()
        ext = model.add_inputs(c, 1)
        start = c.num_nodes
        model.step_maps(c, ext)
        assert dict(gate_counts(c, start)) == counts, family


@pytest.mark.parametrize("dim", [2, 3, 4, 5])
def test_structured_pd_combine_fewer_arithmetic_gates(dim):
    structured = scratch_combine("pd", dim, "structured")
    dense = scratch_combine("dense", dim)
    assert arithmetic(structured) < arithmetic(dense)
    assert structured["AND"] + structured["OR"] > 0


def test_structured_pd_arithmetic_at_dim_one():
    # The only 1 x 1 permutation is the identity, so the combine is diagonal.
    structured = scratch_combine("pd", 1)
    assert arithmetic(structured) == arithmetic(scratch_combine("dense", 1))
    assert structured["AND"] == 1


@pytest.mark.parametrize("dim", [1, 2, 3])
def test_monomial_pd_combines_cost_dense(dim):
    # compile_model converts each PD step once to its monomial matrix P diag(d)
    # (D^2 MUL); every combine after that costs exactly a dense combine.
    n = 8
    pd = compile_model(free_model("pd", dim), n, "tree", pd_combine="monomial")
    dense = compile_model(free_model("dense", dim), n, "tree")
    assert pd.num_gates - dense.num_gates == n * dim * dim


def dense_twin_of_pd_spec():
    """Return a dense spec model with the same matrices as the shipped pd spec."""
    pd = load_spec("pd")
    table = {
        "family": "dense",
        "state_dim": pd.state_dim,
        "alphabet": list(pd.alphabet),
        "initial_state": [int(v) for v in pd.initial_state],
        "readout": {"weights": [int(v) for v in pd.readout_weights], "bias": "-1/2"},
        "transitions": {},
    }
    for token in pd.alphabet:
        matrix = spec_model("pd").transition(token)[0]
        table["transitions"][token] = {
            "matrix": [[int(v) for v in row] for row in matrix]
        }
    return build_model(parse_spec(table, source="pd-as-dense"))


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_pd_spec_against_dense_twin(strategy):
    twin = dense_twin_of_pd_spec()
    for n in (2, 9, 16):
        dense = compile_model(twin, n, strategy)
        monomial = compiled_spec("pd", n, strategy, pd_combine="monomial")
        structured = compiled_spec("pd", n, strategy)
        # diag = 1 folds the conversion p * d away: the same gates as dense.
        assert monomial.num_gates == dense.num_gates, f"n={n}"
        structured_arithmetic = arithmetic(gate_counts(structured))
        if strategy == "chain":
            assert structured_arithmetic == arithmetic(gate_counts(dense)), f"n={n}"
        else:
            assert structured_arithmetic < arithmetic(gate_counts(dense)), f"n={n}"


# ---------------------------------------------------------------------------
# Arguments, metadata and progress
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("n", [0, -1, True, 2.0, "3", None])
def test_invalid_n_rejected(n):
    with pytest.raises(CompileError, match="positive integer"):
        compile_model(spec_model("pd"), n, "tree")


def test_invalid_strategy_and_outputs_rejected():
    model = spec_model("pd")
    with pytest.raises(CompileError, match="unknown strategy 'zigzag'.*chain"):
        compile_model(model, 4, "zigzag")
    with pytest.raises(CompileError, match="outputs must be"):
        compile_model(model, 4, "chain", outputs="some")
    with pytest.raises(CompileError, match="only the final state"):
        compile_model(model, 4, "tree", outputs="all")
    with pytest.raises(CompileError, match="unknown PD combine 'fast'"):
        compile_model(model, 4, "tree", pd_combine="fast")


@pytest.mark.parametrize("strategy", [s for s in STRATEGIES if s != "chain"])
@pytest.mark.parametrize("name", ["elman", "mlp-rnn"])
def test_nonlinear_model_needs_chain(name, strategy):
    with pytest.raises(CompileError, match="nonlinear.*chain"):
        compile_model(spec_model(name), 4, strategy)


@pytest.mark.parametrize(
    "name", [name for name in shipped_specs() if load_spec(name).family == "multilayer"]
)
def test_multilayer_tree_rejected(name):
    with pytest.raises(CompileError, match="tree computes only final states"):
        compile_model(spec_model(name), 4, "tree")


def test_memory_budget_enforced():
    model = spec_model("pd")
    with pytest.raises(CompileError, match="memory budget"):
        compile_model(model, 64, "sklansky", max_bytes=1000)
    assert compile_model(model, 64, "sklansky", max_bytes=None).num_gates > 0


def test_meta_and_output_shapes():
    c = compiled_spec("dplr", 9, "brent-kung", "all")
    assert c.meta["model"] == "dplr"
    assert c.meta["family"] == "dplr"
    assert c.meta["strategy"] == "brent-kung"
    assert c.meta["n"] == 9
    assert c.meta["state_dim"] == 2
    assert c.meta["outputs"] == "all"
    assert c.meta["pd_combine"] is None
    assert c.outputs["state"].shape == (9, 2)
    assert c.outputs["readout"].shape == (1,)
    assert c.outputs["accept"].shape == (1,)
    assert compiled_spec("pd", 4, "tree").meta["pd_combine"] == "structured"


@pytest.mark.parametrize(
    "strategy, phase", [("chain", "steps"), ("sklansky", "combines")]
)
def test_progress_reaches_total(strategy, phase):
    calls = []
    compile_model(
        spec_model("diagonal"), 33, strategy, progress=lambda *a: calls.append(a)
    )
    assert calls
    assert all(call[0] == phase for call in calls)
    done = [call[1] for call in calls]
    assert done == sorted(done)
    assert calls[-1][1] == calls[-1][2]


def test_tokenize_and_encode():
    model = spec_model("pd")
    assert model.tokenize("abe") == ["a", "b", "e"]
    assert model.tokenize("a b  e") == ["a", "b", "e"]
    assert model.tokenize(["e", "a"]) == ["e", "a"]
    assert model.encode(["b", "e"])["x"].tolist() == [[0, 1, 0], [0, 0, 1]]
    with pytest.raises(EvaluationError, match="'z' at position 1"):
        model.tokenize("az")
    with pytest.raises(EvaluationError, match="empty input"):
        model.tokenize("")
