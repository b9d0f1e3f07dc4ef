"""Export circuits to networkx graphs and sympy expressions (small circuits only).

Both exports visit every gate once in index order (topological order), so they need
no recursion; they build one Python object per node and are meant for circuits of
up to about 10^5 gates.
"""

from __future__ import annotations

import networkx as nx
import numpy as np
import sympy

from circuitlab.circuit.ops import Op, op_name
from circuitlab.errors import FormatError

__all__ = ["to_networkx", "to_sympy", "MAX_EXPORT_NODES"]

MAX_EXPORT_NODES = 200_000


def _check_size(circuit, what: str, limit: int) -> None:
    if circuit.num_nodes > limit:
        raise FormatError(
            f"{what} builds one Python object per node; this circuit has "
            f"{circuit.num_nodes:,} nodes (limit {limit:,}); use a smaller n"
        )


def _input_labels(circuit) -> dict[int, str]:
    labels = {}
    for name, ids in circuit.inputs.items():
        for index, node in np.ndenumerate(ids):
            suffix = "".join(f"[{i}]" for i in index)
            labels[int(node)] = f"{name}{suffix}"
    return labels


def to_networkx(circuit, *, limit: int = MAX_EXPORT_NODES) -> nx.DiGraph:
    """Return a DiGraph with an edge from each operand to the gate that reads it.

    Node attributes: ``op`` (name), ``depth``, ``nonlinear_depth``, ``block``,
    ``output`` (the output group name, for output nodes), and ``value`` for
    constants or ``label`` for inputs. Edge attribute ``positions`` lists the
    operand positions at which the gate reads that node (``[0]`` for ``a`` in
    ``a - b``), so a gate that reads one node twice (``x * x``) has ``[0, 1]``.
    """
    _check_size(circuit, "to_networkx", limit)
    graph = nx.DiGraph()
    labels = _input_labels(circuit)
    op = circuit.op
    for node in range(circuit.num_nodes):
        attributes = {
            "op": op_name(op[node]),
            "depth": int(circuit.depth[node]),
            "nonlinear_depth": int(circuit.nonlinear_depth[node]),
            "block": int(circuit.block[node]),
        }
        if op[node] == Op.CONST:
            attributes["value"] = str(circuit.const_value[node])
        elif op[node] == Op.INPUT:
            attributes["label"] = labels.get(node, f"input{node}")
        graph.add_node(node, **attributes)
    for name, ids in circuit.outputs.items():
        for node in np.asarray(ids).ravel():
            graph.nodes[int(node)]["output"] = name
    ptr, fanin = circuit.fanin_ptr, circuit.fanin
    for node in range(circuit.num_nodes):
        operands = fanin[int(ptr[node]) : int(ptr[node + 1])]
        for position, operand in enumerate(operands):
            operand = int(operand)
            if graph.has_edge(operand, node):
                graph[operand][node]["positions"].append(position)
                graph[operand][node]["multiplicity"] += 1
            else:
                graph.add_edge(operand, node, positions=[position], multiplicity=1)
    return graph


def to_sympy(circuit, *, limit: int = 20_000) -> dict[str, np.ndarray]:
    """Return each output group as an array of sympy expressions in the inputs.

    Inputs become symbols named like ``x_3_1`` for ``x[3][1]``; RELU and STEP become
    ``Max(e, 0)`` and ``Heaviside(e, 0)``.
    """
    _check_size(circuit, "to_sympy", limit)
    expressions: list = [None] * circuit.num_nodes
    for name, ids in circuit.inputs.items():
        for index, node in np.ndenumerate(ids):
            expressions[int(node)] = sympy.Symbol("_".join([name, *map(str, index)]))
    for node, value in circuit.const_value.items():
        expressions[node] = sympy.Rational(int(value.numerator), int(value.denominator))
    ptr, fanin, op = circuit.fanin_ptr, circuit.fanin, circuit.op
    for node in range(circuit.num_nodes):
        kind = Op(int(op[node]))
        if kind in (Op.INPUT, Op.CONST):
            continue
        args = [expressions[int(k)] for k in fanin[ptr[node] : ptr[node + 1]]]
        expressions[node] = _sympy_gate(kind, args)
    return {
        name: np.vectorize(lambda k: expressions[int(k)], otypes=[object])(ids)
        for name, ids in circuit.outputs.items()
    }


def _sympy_gate(kind: Op, args: list):
    if kind in (Op.ADD, Op.SUM):
        return sympy.Add(*args)
    if kind == Op.SUB:
        return args[0] - args[1]
    if kind in (Op.MUL, Op.AND):
        return args[0] * args[1]
    if kind == Op.OR:
        return args[0] + args[1] - args[0] * args[1]
    if kind == Op.XOR:
        return args[0] + args[1] - 2 * args[0] * args[1]
    if kind == Op.NEG:
        return -args[0]
    if kind == Op.NOT:
        return 1 - args[0]
    if kind == Op.RELU:
        return sympy.Max(args[0], 0)
    if kind == Op.STEP:
        return sympy.Heaviside(args[0], 0)
    if kind == Op.TANH:
        return sympy.tanh(args[0])
    if kind == Op.SIGMOID:
        return 1 / (1 + sympy.exp(-args[0]))
    raise FormatError(f"no sympy form for gate {op_name(kind)}")
