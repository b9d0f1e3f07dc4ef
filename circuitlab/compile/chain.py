"""Sequential unrolling (the ``chain`` strategy) by tiling one step's gates n times.

A recurrence ``h_t = F(h_{t-1}, x_t)`` unrolls into a chain: step t reads the state
that step t - 1 wrote. Building the chain one step at a time costs a few numpy calls
per step, which is too slow for n = 10^6. Instead the first step is built normally
(so constant folding sees the initial state), then steps 2..n are copies of a
*template*: the gates of one step built once on a scratch circuit whose state and
per-position inputs are placeholders. Copies are written with array arithmetic:
gate g of copy t gets index ``base + t K + g`` for a template of K gates.

Depths come from the template too, without walking the chain. For every template
gate g and every source s (a state coordinate, a per-position input, or the depth-0
constants) the template stores the longest path L[g, s] from s to g. In copy t,
``depth(g) = max_s L[g, s] + depth(source s in copy t)``, so only the D state depths
need a loop over t, and that loop stops early once the depths grow by the same
amount every step (max-plus linearity). Nonlinear depths work the same way with
nonlinear gates weighted 1 and others 0.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import numpy as np

from circuitlab.circuit.ir import Circuit
from circuitlab.circuit.ops import NONLINEAR_MASK, Op

__all__ = ["unroll_chain"]

logger = logging.getLogger(__name__)

_NONE = np.iinfo(np.int64).min // 4
_CHUNK = 1 << 16


def unroll_chain(
    c: Circuit,
    step: Callable,
    h0: np.ndarray,
    ext: np.ndarray,
    *,
    layer: int = 0,
    progress: Callable[[int], None] | None = None,
) -> np.ndarray:
    """Unroll ``h_t = step(c, h_{t-1}, ext[t])`` for t = 0..n-1 and return all states.

    Parameters
    ----------
    c : Circuit
        The circuit to append to.
    step : callable
        ``step(circuit, h (D,), x (E,)) -> h' (D,)`` emitting one step's gates.
    h0 : ndarray of int, shape (D,)
        Node ids of the initial state.
    ext : ndarray of int, shape (n, E)
        Node ids of the per-position inputs.

    Returns
    -------
    ndarray of int, shape (n, D)
        The node ids of h_1..h_n.
    """
    n, width = ext.shape
    dim = len(h0)
    states = np.empty((n, dim), dtype=np.int64)
    with c.block_scope("step", 0, layer):
        states[0] = step(c, np.asarray(h0), ext[0])
    if progress:
        progress(1)
    if n == 1:
        return states

    template = Circuit(fold=c.fold, capacity=256)
    t_state = template.add_input("state", (dim,))
    t_ext = template.add_input("ext", (width,))
    t_out = np.asarray(step(template, t_state, t_ext))
    gate_mask = (template.op != Op.INPUT) & (template.op != Op.CONST)
    if not gate_mask[t_out].all():
        # A state coordinate that passes through unchanged or folds to a constant
        # cannot be tiled by index arithmetic; build those chains step by step.
        logger.debug("template output is not a gate; unrolling step by step")
        for t in range(1, n):
            with c.block_scope("step", t, layer):
                states[t] = step(c, states[t - 1], ext[t])
            if progress:
                progress(1)
        return states

    _tile(c, template, t_state, t_ext, t_out, gate_mask, states, ext, layer, progress)
    return states


def _tile(c, template, t_state, t_ext, t_out, gate_mask, states, ext, layer, progress):
    n, width = ext.shape
    dim = len(t_state)
    copies = n - 1
    gates = np.flatnonzero(gate_mask)
    k = len(gates)
    local = np.full(template.num_nodes, -1, dtype=np.int64)
    local[gates] = np.arange(k)

    # Operands of template gates, classified: another gate, a state placeholder, a
    # per-position input placeholder, or a constant (mapped to the main circuit).
    t_ptr = template.fanin_ptr
    starts = t_ptr[gates].astype(np.int64)
    ends = t_ptr[gates + 1].astype(np.int64)
    lengths = ends - starts
    edge_index = np.concatenate([np.arange(s, e) for s, e in zip(starts, ends)])
    operands = template.fanin[edge_index].astype(np.int64)
    edges_per_copy = len(operands)
    state_slot = np.full(template.num_nodes, -1, dtype=np.int64)
    state_slot[t_state] = np.arange(dim)
    ext_slot = np.full(template.num_nodes, -1, dtype=np.int64)
    ext_slot[t_ext] = np.arange(width)
    const_map = np.full(template.num_nodes, -1, dtype=np.int64)
    for node, value in template.const_value.items():
        const_map[node] = c.const(value)

    c.reserve(copies * k, copies * edges_per_copy)
    base = c.num_nodes
    e_base = c.num_edges
    out_local = local[t_out]
    states[1:] = base + np.arange(copies)[:, None] * k + out_local[None, :]

    blocks = c.blocks.add("step", np.arange(1, n), layer)
    rel_ptr = np.concatenate([[0], np.cumsum(lengths)])
    is_gate = local[operands] >= 0
    is_state = state_slot[operands] >= 0
    is_ext = ext_slot[operands] >= 0
    for lo in range(0, copies, _CHUNK):
        hi = min(lo + _CHUNK, copies)
        t = np.arange(lo, hi)[:, None]
        mapped = np.empty((hi - lo, edges_per_copy), dtype=np.int64)
        mapped[:, is_gate] = base + t * k + local[operands[is_gate]][None, :]
        mapped[:, is_state] = states[lo:hi][:, state_slot[operands[is_state]]]
        mapped[:, is_ext] = ext[lo + 1 : hi + 1][:, ext_slot[operands[is_ext]]]
        const_edges = ~(is_gate | is_state | is_ext)
        mapped[:, const_edges] = const_map[operands[const_edges]][None, :]
        node_lo, node_hi = base + lo * k, base + hi * k
        c._op[node_lo:node_hi] = np.tile(template.op[gates], hi - lo)
        c._ptr[node_lo + 1 : node_hi + 1] = (
            e_base + t * edges_per_copy + rel_ptr[None, 1:]
        ).ravel()
        c._fanin[e_base + lo * edges_per_copy : e_base + hi * edges_per_copy] = (
            mapped.ravel()
        )
        c._block[node_lo:node_hi] = np.repeat(blocks[lo:hi], k)
        if progress:
            progress(hi - lo)
    c._n = base + copies * k
    c._e = e_base + copies * edges_per_copy

    batch_rel = _template_batches(template, local)
    c._record_batches(
        (base + np.arange(copies)[:, None] * k + batch_rel[None, :]).ravel()
    )
    _tile_depths(c, template, gates, t_state, t_ext, t_out, states, ext, base, k)


def _template_batches(template, local) -> np.ndarray:
    starts = template.batch_starts
    rel = local[starts]
    return rel[rel >= 0]


def _longest_paths(template, gates, sources, weights) -> np.ndarray:
    """Return L[node, s]: longest path (sum of gate weights) from source s to node."""
    count = len(sources) + 1
    paths = np.full((template.num_nodes, count), _NONE, dtype=np.int64)
    paths[sources, np.arange(len(sources))] = 0
    leaf = (template.op == Op.CONST) | (template.op == Op.INPUT)
    paths[leaf, -1] = 0  # constants (and placeholders, harmlessly) are depth-0 sources
    ptr = template.fanin_ptr
    for g in gates:
        operands = template.fanin[ptr[g] : ptr[g + 1]]
        best = paths[operands].max(axis=0)
        paths[g] = np.where(best > _NONE, best + weights[g], _NONE)
    return paths


def _tile_depths(
    c, template, gates, t_state, t_ext, t_out, states, ext, base, k
) -> None:
    n = len(ext)
    copies = n - 1
    sources = np.concatenate([t_state, t_ext])
    dim = len(t_state)
    plain_weights = np.ones(template.num_nodes, dtype=np.int64)
    nl_weights = NONLINEAR_MASK[template.op].astype(np.int64)
    for weights, target in ((plain_weights, c._depth), (nl_weights, c._nl)):
        paths = _longest_paths(template, gates, sources, weights)
        state_part = paths[:, :dim]
        other_part = paths[:, dim:]
        # Depths of the per-position inputs and the constant source, per copy.
        ext_depth = target[ext[1:]].astype(np.int64)
        other_depth = np.concatenate(
            [ext_depth, np.zeros((copies, 1), np.int64)], axis=1
        )
        state_depth = _state_depths(
            state_part[t_out], other_part[t_out], other_depth, target[states[0]]
        )
        for lo in range(0, copies, _CHUNK):
            hi = min(lo + _CHUNK, copies)
            from_state = _maxplus(state_part[gates], state_depth[lo:hi])
            from_other = _maxplus(other_part[gates], other_depth[lo:hi])
            target[base + lo * k : base + hi * k] = np.maximum(
                from_state, from_other
            ).ravel()


def _maxplus(paths: np.ndarray, depths: np.ndarray) -> np.ndarray:
    """Return ``out[t, g] = max_s paths[g, s] + depths[t, s]`` (paths may be _NONE)."""
    total = paths[None, :, :] + depths[:, None, :]
    total[np.broadcast_to(paths[None, :, :] == _NONE, total.shape)] = _NONE
    return total.max(axis=2)


def _state_depths(state_paths, other_paths, other_depth, first) -> np.ndarray:
    """Return the depth of the state read by each copy (row t: the state of step t)."""
    copies = len(other_depth)
    other = _maxplus(
        other_paths, other_depth
    )  # (copies, D): contribution of non-state sources
    out = np.empty((copies, len(first)), dtype=np.int64)
    current = np.asarray(first, dtype=np.int64)
    constant_other = bool((other == other[0]).all()) if copies else True
    finite = state_paths > _NONE
    previous_delta = None
    t = 0
    while t < copies:
        out[t] = current
        through_state = np.where(finite, state_paths + current[None, :], _NONE).max(
            axis=1
        )
        following = np.maximum(through_state, other[t])
        delta = following - current
        uniform = bool((delta == delta[0]).all())
        if (
            constant_other
            and uniform
            and previous_delta is not None
            and delta[0] == previous_delta
            and (through_state >= other[t]).all()
        ):
            # Max-plus homogeneity: from here every step adds the same delta.
            rest = np.arange(1, copies - t)[:, None] * delta[0]
            out[t + 1 :] = following[None, :] + rest - delta[0]
            return out
        previous_delta = delta[0] if uniform else None
        current = following
        t += 1
    return out
