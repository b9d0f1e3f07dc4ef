"""Critical path: one longest path that ends at an output node.

Two variants, both loops over depth levels or path steps, never recursion:

- :func:`critical_path_from_inputs` counts gates on paths that start at an input, so
  a path that starts at a constant never wins. It processes one depth level at a
  time with array operations, so it costs one numpy pass per level.
- :func:`critical_path_by_depth` walks back from the deepest output along operands
  whose depth is one less. It reads only the stored ``depth`` array, so it suits
  large circuits. With constant folding on (the default) every gate reads at least
  one non-constant operand, so the walk ends at an input. Without folding it can
  end at a constant.
"""

from __future__ import annotations

import numpy as np

from circuitlab.circuit.ir import Circuit
from circuitlab.circuit.ops import Op

__all__ = ["critical_path_from_inputs", "critical_path_by_depth", "MAX_WALK_STEPS"]

#: Longest path :func:`critical_path_by_depth` walks; deeper circuits get no path.
#: A step costs about 4 microseconds (measured on a 2-core machine with an Elman
#: chain of depth 200,000), so this bounds the walk near 1 s.
MAX_WALK_STEPS = 200_000

_UNREACHED = -1


def _distance_from_inputs(circuit: Circuit) -> np.ndarray:
    """Return per node the largest gate count on a path from an input, -1 if none."""
    op = circuit.op
    ptr = circuit.fanin_ptr.astype(np.int64)
    fanin = circuit.fanin.astype(np.int64)
    depth = circuit.depth
    distance = np.full(circuit.num_nodes, _UNREACHED, dtype=np.int64)
    distance[op == Op.INPUT] = 0
    is_gate = (op != Op.INPUT) & (op != Op.CONST)
    gates = np.flatnonzero(is_gate)
    if not gates.size:
        return distance
    # Gates of depth d read only nodes of smaller depth, so one pass per depth level
    # reads final distances for every operand.
    order = gates[np.argsort(depth[gates], kind="stable")]
    level_starts = np.searchsorted(depth[order], np.arange(1, depth[order].max() + 2))
    for level in range(len(level_starts) - 1):
        level_gates = order[level_starts[level] : level_starts[level + 1]]
        if not level_gates.size:
            continue
        starts = ptr[level_gates]
        lengths = ptr[level_gates + 1] - starts
        offsets = np.cumsum(lengths) - lengths
        slots = np.repeat(starts - offsets, lengths) + np.arange(lengths.sum())
        best = np.maximum.reduceat(distance[fanin[slots]], offsets)
        distance[level_gates] = np.where(best >= 0, best + 1, _UNREACHED)
    return distance


def _walk_back(circuit: Circuit, start: int, distance: np.ndarray) -> np.ndarray:
    """Follow operands whose distance is one less from ``start`` down to distance 0.

    Among equal candidates a non-constant operand wins, so a depth-1 gate that reads
    an input and a constant continues to the input.
    """
    ptr = circuit.fanin_ptr.astype(np.int64)
    fanin = circuit.fanin
    not_constant = circuit.op != Op.CONST
    path = [start]
    node = start
    while distance[node] > 0:
        operands = fanin[ptr[node] : ptr[node + 1]]
        score = 2 * (distance[operands] == distance[node] - 1) + not_constant[operands]
        node = int(operands[np.argmax(score)])
        path.append(node)
    return np.asarray(path[::-1], dtype=np.int64)


def critical_path_from_inputs(circuit: Circuit) -> np.ndarray:
    """Return the node ids of one longest input-to-output path, input first.

    The path has ``L + 1`` nodes for a path of ``L`` gates; it is empty when no
    output depends on an input.
    """
    outputs = circuit.output_ids()
    if not outputs.size:
        return np.zeros(0, dtype=np.int64)
    distance = _distance_from_inputs(circuit)
    start = int(outputs[np.argmax(distance[outputs])])
    if distance[start] < 0:
        return np.zeros(0, dtype=np.int64)
    return _walk_back(circuit, start, distance)


def critical_path_by_depth(circuit: Circuit) -> np.ndarray | None:
    """Return one longest leaf-to-output path by stored depths, leaf first.

    Returns None when the circuit is deeper than :data:`MAX_WALK_STEPS`.
    """
    outputs = circuit.output_ids()
    if not outputs.size:
        return np.zeros(0, dtype=np.int64)
    depth = circuit.depth
    start = int(outputs[np.argmax(depth[outputs])])
    if depth[start] > MAX_WALK_STEPS:
        return None
    return _walk_back(circuit, start, depth.astype(np.int64))
