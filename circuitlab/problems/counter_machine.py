"""Counter machine for sorted deterministic graph connectivity, in plain Python.

The machine reads the token stream of :func:`~circuitlab.problems.graph_connectivity.
encode_sorted_stream` (``0^s |``, then ``0^u | 0^v |`` per edge, then ``# 0^t $``)
with a finite control and two integer counters: ``S`` holds the current vertex of
the walk from the source, and ``idx`` counts the unary digits of the current edge
source so that ``S`` can be restored after a mismatch.

Transitions (any pair not listed goes to ``reject``, which absorbs)::

    source  : '0' -> S += 1                   '|' -> edge
    edge    : '0' -> S -= 1, idx += 1, left   '#' -> target
    left    : '0' -> S -= 1, idx += 1         '|' -> equal if S == 0 else unequal
    equal   : '0' -> S += 1                   '|' -> idx = 0, edge
    unequal : '0' -> if idx != 0: S += 1, idx -= 1
                                              '|' -> edge
    target  : '0' -> S -= 1                   '$' -> accept if S == 0 else reject
    accept, reject : any token -> reject

After an edge ``u -> v`` the walk moves to ``v`` if it stood on ``u`` (state
``equal`` counts ``S`` up to ``v``), and otherwise ``unequal`` restores ``S`` by
adding back the ``u`` units that ``left`` subtracted. The machine accepts iff the
walk ends at the target. That is reachability only when the target is a sink: if
the walk passes through the target and leaves it, the machine rejects although
the target is reachable. :func:`decide_reachability` therefore establishes the
promise first.

Suggested state layout for a ReLU RNN: a one-hot vector over the 8 control states
of :class:`CounterState` and a one-hot token over the 4 symbols. Each counter is
a pair ``(p, m)`` of non-negative reals with value ``p - m``, re-canonicalised
each step to ``(ReLU(p - m), ReLU(m - p))``. The zero tests ``S == 0`` (in
``left`` and ``target``) and ``idx != 0`` (in ``unequal``) are
``ReLU(1 - p - m)`` on the canonical pair. A counter changes by at most 1 per
``'0'`` token and otherwise only resets to 0, so its absolute value stays at most
the number of ``'0'`` tokens (see :func:`max_counter_value`), and ``O(log n)``
bits suffice.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Iterable
from enum import StrEnum
from typing import NamedTuple

from circuitlab.errors import ProblemError
from circuitlab.problems.graph_connectivity import (
    FunctionalGraph,
    SortedInstance,
    layered_reduction,
    make_target_sink,
    sorted_stream_runs,
)

logger = logging.getLogger(__name__)

__all__ = [
    "CounterState",
    "CounterConfig",
    "INITIAL_COUNTER_CONFIG",
    "counter_step",
    "run_counter_machine",
    "trace_counter_machine",
    "max_counter_value",
    "decide_reachability",
]


class CounterState(StrEnum):
    """Control states: the six working states plus two halting states."""

    SOURCE = "source"
    EDGE = "edge"
    LEFT = "left"
    EQUAL = "equal"
    UNEQUAL = "unequal"
    TARGET = "target"
    ACCEPT = "accept"
    REJECT = "reject"


class CounterConfig(NamedTuple):
    """Configuration ``(state, S, idx)`` of the counter machine."""

    state: CounterState
    S: int
    idx: int


INITIAL_COUNTER_CONFIG = CounterConfig(CounterState.SOURCE, 0, 0)
"""Configuration before the first token."""

_SOURCE = CounterState.SOURCE
_EDGE = CounterState.EDGE
_LEFT = CounterState.LEFT
_EQUAL = CounterState.EQUAL
_UNEQUAL = CounterState.UNEQUAL
_TARGET = CounterState.TARGET
_ACCEPT = CounterState.ACCEPT
_REJECT = CounterState.REJECT


def counter_step(
    config: CounterConfig, token: str, *, idx_guard: bool = True
) -> CounterConfig:
    """Apply one transition of the machine.

    Parameters
    ----------
    config : CounterConfig
        Configuration before the token.
    token : str
        One of ``'0'``, ``'|'``, ``'#'``, ``'$'``. Any other token rejects.
    idx_guard : bool
        With False, ``unequal`` adds to ``S`` on every ``'0'`` without testing
        ``idx != 0``. This ablation is wrong on some instances.

    Returns
    -------
    CounterConfig
        Configuration after the token.

    Examples
    --------
    >>> counter_step(INITIAL_COUNTER_CONFIG, "0")
    CounterConfig(state=<CounterState.SOURCE: 'source'>, S=1, idx=0)
    """
    state, s, idx = config
    if token == "0":
        if state is _SOURCE or state is _EQUAL:
            return CounterConfig(state, s + 1, idx)
        if state is _EDGE or state is _LEFT:
            return CounterConfig(_LEFT, s - 1, idx + 1)
        if state is _UNEQUAL:
            if idx != 0 or not idx_guard:
                return CounterConfig(state, s + 1, idx - 1)
            return config
        if state is _TARGET:
            return CounterConfig(state, s - 1, idx)
        return CounterConfig(_REJECT, s, idx)
    return CounterConfig(
        _symbol_state(state, s, token), s, _symbol_idx(state, idx, token)
    )


def _symbol_state(state: CounterState, s: int, token: str) -> CounterState:
    """Return the next state on a token other than ``'0'``."""
    if token == "|":
        if state is _SOURCE or state is _EQUAL or state is _UNEQUAL:
            return _EDGE
        if state is _LEFT:
            return _EQUAL if s == 0 else _UNEQUAL
    elif token == "#":
        if state is _EDGE:
            return _TARGET
    elif token == "$":
        if state is _TARGET:
            return _ACCEPT if s == 0 else _REJECT
    return _REJECT


def _symbol_idx(state: CounterState, idx: int, token: str) -> int:
    """Return ``idx`` after a token other than ``'0'`` (only ``equal`` resets it)."""
    if token == "|" and state is _EQUAL:
        return 0
    return idx


def _run_on_runs(
    runs: Iterable[tuple[str, int]], *, idx_guard: bool
) -> tuple[CounterConfig, int]:
    """Run the machine on ``(token, count)`` runs; return the final config and peak.

    A run of ``k`` zeros is applied in one update: every state changes its
    counters by the same amount on each ``'0'``, except ``unequal`` with the guard,
    which stops when ``idx`` reaches 0. The result equals ``k`` calls of
    :func:`counter_step`, and the tests compare the two. The peak is the max
    absolute counter value over all steps. Counters move monotonically within a
    run, so the run's endpoints attain it.
    """
    state, s, idx = INITIAL_COUNTER_CONFIG
    peak = 0
    for token, count in runs:
        if count <= 0:
            continue
        if token != "0":
            for _ in range(count):
                idx = _symbol_idx(state, idx, token)
                state = _symbol_state(state, s, token)
            continue
        if state is _SOURCE or state is _EQUAL:
            s += count
        elif state is _EDGE or state is _LEFT:
            state, s, idx = _LEFT, s - count, idx + count
        elif state is _TARGET:
            s -= count
        elif state is _UNEQUAL:
            if not idx_guard or idx < 0:
                moved = count
            else:
                # idx >= 0 here: the guard allows exactly idx more increments.
                moved = min(count, idx)
            s, idx = s + moved, idx - moved
        else:
            state = _REJECT
        peak = max(peak, abs(s), abs(idx))
    return CounterConfig(state, s, idx), peak


def _runs_of(tokens: Iterable[str]) -> list[tuple[str, int]]:
    return [(token, len(list(group))) for token, group in itertools.groupby(tokens)]


def run_counter_machine(tokens: Iterable[str], *, idx_guard: bool = True) -> bool:
    """Run the machine on a token stream and return whether it accepts.

    Parameters
    ----------
    tokens : str or iterable of str
        The stream, one character per token.
    idx_guard : bool
        False removes the ``idx != 0`` guard in ``unequal`` (an ablation).

    Returns
    -------
    bool
        True iff the final state is ``accept``.

    Examples
    --------
    >>> run_counter_machine("0|0|000|#000$")
    True
    >>> run_counter_machine("0|0|000|#00$")
    False
    """
    config, _ = _run_on_runs(_runs_of(tokens), idx_guard=idx_guard)
    return config.state is _ACCEPT


def trace_counter_machine(
    tokens: Iterable[str], *, idx_guard: bool = True
) -> list[CounterConfig]:
    """Run the machine one token at a time and return every configuration.

    Returns
    -------
    list[CounterConfig]
        ``trace[i]`` is the configuration after ``i`` tokens, so ``trace[0]`` is
        :data:`INITIAL_COUNTER_CONFIG` and the list has one entry more than the
        stream has tokens.
    """
    trace = [INITIAL_COUNTER_CONFIG]
    for token in tokens:
        trace.append(counter_step(trace[-1], token, idx_guard=idx_guard))
    return trace


def max_counter_value(tokens: Iterable[str], *, idx_guard: bool = True) -> int:
    """Return the max of ``|S|`` and ``|idx|`` over all configurations of a run.

    An RNN that stores each counter as a pair ``(p, m)`` needs values up to this
    number, which is at most the number of ``'0'`` tokens.

    Examples
    --------
    >>> max_counter_value("0|0|000|#000$")
    3
    """
    _, peak = _run_on_runs(_runs_of(tokens), idx_guard=idx_guard)
    return peak


def decide_reachability(
    graph: FunctionalGraph | SortedInstance,
    source: int | None = None,
    target: int | None = None,
) -> bool:
    """Decide reachability with the counter machine, after establishing its promise.

    A :class:`FunctionalGraph` query goes through
    :func:`~circuitlab.problems.graph_connectivity.layered_reduction`, whose target
    is a sink. A :class:`SortedInstance` whose target has an out-edge gets that
    edge dropped by :func:`~circuitlab.problems.graph_connectivity.make_target_sink`
    instead of an error, because that edge never changes whether the target is
    reachable. The machine then runs on the
    run-length form of the stream, in time linear in the number of edges.

    Parameters
    ----------
    graph : FunctionalGraph or SortedInstance
        The graph or instance.
    source, target : int, optional
        Query vertices. Required for a functional graph. For a sorted instance
        they replace the instance's own when given.

    Returns
    -------
    bool
        Whether ``target`` is reachable from ``source``. A vertex reaches itself.

    Raises
    ------
    ProblemError
        If the graph type is unknown or a query vertex is missing or out of range.

    Examples
    --------
    >>> decide_reachability(FunctionalGraph(3, {1: 2, 2: 3, 3: 1}), 3, 2)
    True
    """
    if isinstance(graph, FunctionalGraph):
        if source is None or target is None:
            raise ProblemError(
                "decide_reachability() on a FunctionalGraph needs source and target"
            )
        instance = layered_reduction(graph, source, target)
    elif isinstance(graph, SortedInstance):
        instance = graph
        if source is not None or target is not None:
            instance = SortedInstance(
                graph.num_vertices,
                graph.source if source is None else source,
                graph.target if target is None else target,
                graph.edges,
            )
        if not instance.target_is_sink:
            logger.debug(
                "target %d has an out-edge; dropping it before running the machine",
                instance.target,
            )
            instance = make_target_sink(instance)
    else:
        raise ProblemError(
            f"decide_reachability() expects a FunctionalGraph or SortedInstance, "
            f"got {type(graph).__name__}"
        )
    config, _ = _run_on_runs(sorted_stream_runs(instance), idx_guard=True)
    return config.state is _ACCEPT
