"""Unroll a model over n positions into a circuit with a chosen strategy.

Strategies are independent of the model family. ``chain`` applies the steps one
after another (the only strategy for a nonlinear RNN, and a baseline for linear
ones). Every other strategy is a combine schedule over the n step maps of a linear
RNN: ``tree`` (balanced product tree, final state only) or one of the prefix
networks ``serial``, ``sklansky``, ``kogge-stone``, ``brent-kung``,
``ladner-fischer`` (every prefix state).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import numpy as np

from circuitlab.circuit.ir import Circuit
from circuitlab.compile.affine import PD_COMBINES, apply, combine, to_dense
from circuitlab.compile.chain import unroll_chain
from circuitlab.compile.multilayer import check_multilayer_strategy, compile_layers
from circuitlab.compile.network import run_schedule
from circuitlab.compile.schedules import STRATEGY_NAMES, combine_count, iter_levels
from circuitlab.errors import CompileError

__all__ = [
    "compile_model",
    "default_strategy",
    "strategy_problem",
    "estimate_gates",
    "STRATEGIES",
    "DEFAULT_MAX_BYTES",
    "BYTES_PER_GATE",
]

logger = logging.getLogger(__name__)

STRATEGIES = ("chain",) + tuple(STRATEGY_NAMES)

#: Default memory budget for one circuit (bytes); raise it with ``max_bytes``.
DEFAULT_MAX_BYTES = 8 * 2**30

#: Prefix states whose h_0 application is emitted in one batch (bounds temporaries).
_APPLY_CHUNK = 1 << 15

#: Bytes the IR stores per fan-in-2 gate: opcode 1, CSR pointer 4 (uint32 while the
#: operand count fits), two operands 8, depth 4, nonlinear depth 4, block 4.
BYTES_PER_GATE = 25


def default_strategy(model) -> str:
    """Return the default strategy: tree for a linear RNN, chain for a nonlinear one,
    and Sklansky for a multilayer network of linear heads (later layers read every
    prefix state, so the tree does not apply)."""
    if getattr(model, "is_multilayer", False):
        return "chain" if model.has_nonlinear_heads else "sklansky"
    return "tree" if model.is_linear else "chain"


def strategy_problem(model, strategy: str, outputs: str) -> str | None:
    """Return why ``strategy`` cannot unroll ``model`` with these outputs, or None."""
    try:
        if getattr(model, "is_multilayer", False):
            _check_multilayer(model, strategy, outputs)
        else:
            _check_strategy(model, strategy, outputs)
    except CompileError as error:
        return str(error)
    return None


def _check_n(n) -> int:
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)):
        raise CompileError(f"n must be a positive integer, got {n!r}")
    if n < 1:
        raise CompileError(f"n must be a positive integer, got {n}")
    return int(n)


def _check_strategy(model, strategy: str, outputs: str) -> None:
    if strategy not in STRATEGIES:
        raise CompileError(
            f"unknown strategy {strategy!r}; valid strategies: {', '.join(STRATEGIES)}"
        )
    if outputs not in ("final", "all"):
        raise CompileError(f"outputs must be 'final' or 'all', got {outputs!r}")
    if not model.is_linear and strategy != "chain":
        raise CompileError(
            f"strategy {strategy} needs a linear RNN, but {model.name} is nonlinear "
            "(family {}); nonlinear RNNs unroll only as a chain: use --strategy chain".format(
                model.family
            )
        )
    if strategy == "tree" and outputs == "all":
        raise CompileError(
            "strategy tree computes only the final state; for every prefix state use a "
            "prefix network (serial, sklansky, kogge-stone, brent-kung, ladner-fischer) or chain"
        )


def _check_multilayer(model, strategy: str, outputs: str) -> None:
    if strategy not in STRATEGIES:
        raise CompileError(
            f"unknown strategy {strategy!r}; valid strategies: {', '.join(STRATEGIES)}"
        )
    if outputs not in ("final", "all"):
        raise CompileError(f"outputs must be 'final' or 'all', got {outputs!r}")
    check_multilayer_strategy(model, strategy, outputs)


def _estimate_multilayer(
    model, n: int, strategy: str, fold: bool, pd_combine: str
) -> int:
    # Compile the network at a small size and scale per position. The combine
    # schedules add at most a log factor, so the estimate also scales with log2 n.
    probe_n = 4
    probe_strategy = "serial" if strategy == "tree" else strategy
    probe = Circuit(fold=fold, capacity=4096)
    compile_layers(probe, model, probe_n, probe_strategy, "all", pd_combine)
    per_position = probe.num_nodes / (probe_n + 1)
    return int(per_position * (n + 1) * max(1.0, np.log2(n + 1) / 2))


def estimate_gates(
    model, n: int, strategy: str, *, fold: bool = True, pd_combine="structured"
) -> int:
    """Estimate the number of nodes of a compiled circuit without building it.

    The per-step and per-combine gate counts are measured on a scratch circuit of
    two positions and multiplied by the number of steps and combines. A DPLR combine
    is counted at its dense cost, an upper bound once ranks have grown.
    """
    n = _check_n(n)
    if getattr(model, "is_multilayer", False):
        return _estimate_multilayer(model, n, strategy, fold, pd_combine)
    scratch = Circuit(fold=fold, capacity=1024)
    ext = model.add_inputs(scratch, 2)
    h0 = model.initial_state(scratch)
    leaves = scratch.num_nodes
    inputs_per_position = ext.shape[1]
    if strategy == "chain" or not model.is_linear:
        before = scratch.num_nodes
        template_state = scratch.add_input("state_probe", (model.state_dim,))
        model.step(scratch, template_state, ext[1])
        per_step = scratch.num_nodes - before
        return int(n * (per_step + inputs_per_position) + leaves)
    maps = model.step_maps(scratch, ext)
    per_step = (scratch.num_nodes - leaves) / 2
    before = scratch.num_nodes
    first, second = maps.take([0]), maps.take([1])
    if maps.form == "dplr":
        first, second = to_dense(scratch, first), to_dense(scratch, second)
        before = scratch.num_nodes
    combine(scratch, first, second, pd_combine)
    per_combine = scratch.num_nodes - before
    before = scratch.num_nodes
    apply(scratch, np.asarray(h0)[None, :], maps.take([0]))
    per_apply = scratch.num_nodes - before
    combines = combine_count(strategy, n)
    applies = n if strategy != "tree" else 1
    total = (
        n * (per_step + inputs_per_position)
        + combines * per_combine
        + applies * per_apply
    )
    return int(total + leaves)


def _inputs_per_position(model) -> int:
    scratch = Circuit(capacity=64)
    return int(model.add_inputs(scratch, 1).shape[-1])


def compile_model(
    model,
    n: int,
    strategy: str = "tree",
    *,
    outputs: str = "final",
    fold: bool = True,
    pd_combine: str = "structured",
    max_bytes: int | None = DEFAULT_MAX_BYTES,
    progress: Callable[[str, int, int], None] | None = None,
) -> Circuit:
    """Unroll ``model`` over ``n`` positions into a circuit.

    Parameters
    ----------
    model : RecurrentModel
        From :func:`circuitlab.models.build_model` or :func:`~circuitlab.models.free_model`.
    n : int
        Number of input positions (>= 1).
    strategy : str
        One of :data:`STRATEGIES`.
    outputs : {"final", "all"}
        Emit only h_n, or every prefix state h_1..h_n.
    fold : bool
        Build-time constant folding (x*0, x*1, x+0, constant-constant).
    pd_combine : {"structured", "monomial"}
        How PD maps compose; see :data:`circuitlab.compile.affine.PD_COMBINES`.
    max_bytes : int or None
        Refuse circuits whose estimated memory exceeds this many bytes (None: no limit).
    progress : callable, optional
        ``progress(phase, done, total)``, called as work completes.

    Returns
    -------
    Circuit
        Outputs ``state`` (shape ``(positions, D)``) and, for spec models,
        ``readout`` and ``accept`` at the last position.

    Examples
    --------
    >>> from circuitlab.spec import load_spec
    >>> from circuitlab.models import build_model
    >>> circuit = compile_model(build_model(load_spec("pd")), 8, "tree")
    >>> circuit.meta["strategy"], circuit.outputs["state"].shape
    ('tree', (1, 5))
    """
    n = _check_n(n)
    multilayer = getattr(model, "is_multilayer", False)
    if multilayer:
        _check_multilayer(model, strategy, outputs)
    else:
        _check_strategy(model, strategy, outputs)
    if pd_combine not in PD_COMBINES:
        raise CompileError(
            f"unknown PD combine {pd_combine!r}; use one of {', '.join(PD_COMBINES)}"
        )
    estimate = estimate_gates(model, n, strategy, fold=fold, pd_combine=pd_combine)
    estimated_bytes = estimate * BYTES_PER_GATE
    if max_bytes is not None and estimated_bytes > max_bytes:
        raise CompileError(
            f"estimated circuit size {estimate:,} nodes (about {estimated_bytes / 2**30:.1f} GiB) "
            f"exceeds the memory budget of {max_bytes / 2**30:.1f} GiB; raise it with "
            "--max-memory GIB (API: max_bytes) or choose a smaller n"
        )
    logger.info(
        "compiling %s, n=%d, strategy=%s, estimate %d nodes",
        model.name,
        n,
        strategy,
        estimate,
    )

    # Inputs have no operands and every built-in gate has at most two.
    edges = 2 * max(estimate - n * _inputs_per_position(model), 0)
    c = Circuit(
        fold=fold,
        capacity=int(estimate * 1.01) + 64,
        edge_capacity=int(edges * 1.01) + 128,
    )
    if not multilayer:
        ext = model.add_inputs(c, n)
        h0 = np.asarray(model.initial_state(c))

    if multilayer:
        states = compile_layers(c, model, n, strategy, outputs, pd_combine, progress)
    elif strategy == "chain":
        done = [0]

        def tick(count):
            done[0] += count
            if progress:
                progress("steps", done[0], n)

        states = unroll_chain(c, model.step, h0, ext, progress=tick)
        if outputs == "final":
            states = states[-1:]
    else:
        states = _compile_network(
            c, model, n, strategy, outputs, ext, h0, pd_combine, progress
        )

    c.set_output("state", states)
    if model.has_readout:
        model.add_readout(c, states[-1])
    c.meta.update(
        {
            "model": model.name,
            "family": model.family,
            "strategy": strategy,
            "n": n,
            "state_dim": model.state_dim,
            "outputs": outputs,
            "pd_combine": pd_combine if model.family in ("pd", "multilayer") else None,
            "estimated_nodes": estimate,
        }
    )
    c.trim()
    return c


def _compile_network(c, model, n, strategy, outputs, ext, h0, pd_combine, progress):
    with c.block_scope("step", np.arange(n)):
        maps = model.step_maps(c, ext)
        if maps.form == "pd" and pd_combine == "monomial":
            # Monomial matrices P diag(d) combine as dense matrices; converting once
            # per step keeps every combine at exactly the dense cost.
            maps = to_dense(c, maps)
    total = combine_count(strategy, n)
    levels = iter_levels(strategy, n)
    done = [0]

    def tick(count):
        done[0] += count
        if progress:
            progress("combines", done[0], total)

    store = run_schedule(
        c, maps, levels, pd_combine=pd_combine, progress=tick, total_combines=total
    )
    slots = np.arange(n) if outputs == "all" else np.array([n - 1])
    states = np.empty((len(slots), model.state_dim), dtype=np.int64)
    for lo in range(0, len(slots), _APPLY_CHUNK):
        part = slots[lo : lo + _APPLY_CHUNK]
        for positions, group in store.get(part):
            with c.block_scope("apply", part[positions]):
                start = np.broadcast_to(h0, (len(positions), model.state_dim))
                states[lo + positions] = apply(c, start, group)
    return states
