"""Circuit metrics: one definition each, used by the CLI, the JSON output and the docs.

Definitions
-----------
size
    Number of operation gates. Inputs and constants are nodes but not gates.
    ``size_by_op`` breaks it down by opcode.
depth
    Number of operation gates on the longest path from an input or constant to an
    output node.
nonlinear depth
    Largest number of nonlinear gates (RELU, STEP, TANH, SIGMOID) on any path from an
    input or constant to an output node.
fan-in, fan-out
    Fan-in of a gate is its number of operands; fan-out of a node is the number of
    operand slots that read it. Both are reported as maximum and mean over operation
    gates (fan-out of gates only; inputs are summarised separately).
width per level
    Number of operation gates at each depth 1, 2, ..., depth.
live size, dead gates
    ``live_size`` counts the operation gates that some output depends on and
    ``dead_gates`` the rest. A prefix network asked for the final state only, for
    example, still builds every prefix, and ``size`` counts those gates. Both are
    None for circuits of more than :data:`MAX_LIVENESS_BATCHES` batches (long
    chains), where the backward sweep would take minutes.
lower bound
    An output that depends on m inputs needs depth at least ``ceil(log2 m)`` with
    fan-in 2. ``support`` is the largest m over the outputs inspected (every output
    when there are at most :data:`MAX_SUPPORT_OUTPUTS`, otherwise the last node of each
    output group), and ``depth_lower_bound = ceil(log2 support)``.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import breadth_first_order

from circuitlab.circuit.ops import Op, op_name

__all__ = [
    "circuit_stats",
    "input_support",
    "live_gates",
    "MAX_SUPPORT_OUTPUTS",
    "MAX_LIVENESS_BATCHES",
    "METRIC_NAMES",
]

MAX_SUPPORT_OUTPUTS = 64

#: Above this many batches the live-gate sweep (one numpy step per batch) is skipped.
MAX_LIVENESS_BATCHES = 1_000_000

#: Scalar metrics a sweep or a claim may name.
METRIC_NAMES = (
    "size",
    "live_size",
    "depth",
    "nonlinear_depth",
    "max_fanin",
    "mean_fanin",
    "max_fanout",
    "mean_fanout",
    "depth_lower_bound",
    "max_width",
)


def _gate_mask(circuit) -> np.ndarray:
    op = circuit.op
    return (op != Op.INPUT) & (op != Op.CONST)


def input_support(circuit, nodes) -> list[int]:
    """Return, for each node, the number of input nodes it depends on.

    Uses a breadth-first search over the operand graph (CSR, no recursion).
    """
    graph = csr_matrix(
        (
            np.ones(circuit.num_edges, dtype=np.int8),
            circuit.fanin.astype(np.int64),
            circuit.fanin_ptr.astype(np.int64),
        ),
        shape=(circuit.num_nodes, circuit.num_nodes),
    )
    is_input = circuit.op == Op.INPUT
    counts = []
    for node in np.atleast_1d(nodes):
        reached = breadth_first_order(
            graph, int(node), directed=True, return_predecessors=False
        )
        counts.append(int(is_input[reached].sum()))
    return counts


def live_gates(circuit) -> np.ndarray | None:
    """Return a mask of the nodes that some output depends on (None if skipped).

    Sweeps the batches from last to first: a batch's gates read only earlier
    nodes, so once a batch is reached every reader of its gates has been seen.
    """
    if len(circuit.batch_starts) > MAX_LIVENESS_BATCHES:
        return None
    live = np.zeros(circuit.num_nodes, dtype=bool)
    live[circuit.output_ids()] = True
    ptr, fanin = circuit.fanin_ptr, circuit.fanin
    starts = circuit.batch_starts
    ends = np.append(starts[1:], circuit.num_nodes)
    for start, end in zip(starts[::-1], ends[::-1]):
        segment = live[start:end]
        if not segment.any():
            continue
        first, last = int(ptr[start]), int(ptr[end])
        if first == last:
            continue
        if segment.all():
            live[fanin[first:last]] = True
        else:
            lengths = np.diff(ptr[start : end + 1].astype(np.int64))
            live[fanin[first:last][np.repeat(segment, lengths)]] = True
    return live


def _support_nodes(circuit) -> np.ndarray:
    ids = circuit.output_ids()
    if ids.size <= MAX_SUPPORT_OUTPUTS:
        return ids
    return np.array(
        [group.ravel()[-1] for group in circuit.outputs.values()], dtype=np.int64
    )


def circuit_stats(circuit, *, support: bool = True) -> dict:
    """Return every metric of ``circuit`` as a JSON-serialisable dict.

    Parameters
    ----------
    circuit : Circuit
    support : bool
        Compute the input support and the fan-in-2 depth lower bound (one graph
        search per inspected output).

    Examples
    --------
    >>> from circuitlab.circuit.ir import Circuit
    >>> c = Circuit()
    >>> x = c.add_input("x", (4,))
    >>> c.set_output("y", c.sum(x))
    >>> s = circuit_stats(c)
    >>> s["size"], s["depth"], s["depth_lower_bound"]
    (3, 2, 2)
    """
    gates = _gate_mask(circuit)
    op = circuit.op[gates]
    fanin = np.diff(circuit.fanin_ptr)[gates]
    reads = np.bincount(circuit.fanin, minlength=circuit.num_nodes)
    fanout = reads[gates]
    input_reads = reads[circuit.op == Op.INPUT]
    outputs = circuit.output_ids()
    depth = int(circuit.depth[outputs].max()) if outputs.size else 0
    nonlinear = int(circuit.nonlinear_depth[outputs].max()) if outputs.size else 0
    width = (
        np.bincount(circuit.depth[gates], minlength=1)[1:]
        if gates.any()
        else np.zeros(0)
    )
    by_op = {
        op_name(code): int(count)
        for code, count in zip(*np.unique(op, return_counts=True))
    }

    live = live_gates(circuit)
    live_size = int((live & gates).sum()) if live is not None else None
    stats = {
        "size": int(gates.sum()),
        "live_size": live_size,
        "dead_gates": None if live_size is None else int(gates.sum()) - live_size,
        "size_by_op": by_op,
        "depth": depth,
        "nonlinear_depth": nonlinear,
        "max_fanin": int(fanin.max()) if fanin.size else 0,
        "mean_fanin": float(fanin.mean()) if fanin.size else 0.0,
        "max_fanout": int(fanout.max()) if fanout.size else 0,
        "mean_fanout": float(fanout.mean()) if fanout.size else 0.0,
        "max_input_fanout": int(input_reads.max()) if input_reads.size else 0,
        "inputs": circuit.num_inputs,
        "constants": circuit.num_consts,
        "nodes": circuit.num_nodes,
        "edges": circuit.num_edges,
        "outputs": int(outputs.size),
        "max_width": int(width.max()) if width.size else 0,
        "width_per_level": [int(w) for w in width],
        "folding": bool(circuit.meta.get("folding", circuit.fold)),
        "bytes": int(circuit.nbytes()),
    }
    if support:
        counts = (
            input_support(circuit, _support_nodes(circuit)) if outputs.size else [0]
        )
        largest = max(counts)
        stats["support"] = largest
        stats["depth_lower_bound"] = math.ceil(math.log2(largest)) if largest > 1 else 0
    return stats
