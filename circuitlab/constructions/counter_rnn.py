"""ReLU counter RNN for sorted deterministic graph connectivity (log precision).

The RNN runs the counter machine of :mod:`circuitlab.problems.counter_machine` on
the stream ``0^s |`` then ``0^u | 0^v |`` per edge then ``# 0^t $`` (alphabet
``0 | # $``). Its update is a ReLU MLP with **one hidden layer** on ``[h, x]``,
where ``x`` is the one-hot token.

State (``D = 12``)
------------------
- ``source, edge, left, equal, unequal, target, accept, reject``: the control
  state, one-hot.
- ``S+, S-``: the counter ``S = S+ - S-`` (the current vertex of the walk, minus
  the unary digits read so far of the edge source), and ``idx+, idx-``: the
  counter ``idx = idx+ - idx-``. Both pairs are non-negative integers kept
  canonical (one of the two is 0), so ``S+ + S- = |S|``.

Gadgets (every hidden unit is one ReLU of an affine form in ``[h, x]``)
----------------------------------------------------------------------
- Selector of control states ``Q`` and token ``a``:
  ``[Q & a] = ReLU(sum_{q in Q} h_q + x_a - 1)``.
- Zero test folded into a selector: for non-negative integers ``z_1..z_k``,
  ``[Q & a & z_1 = ... = z_k = 0] = ReLU(sum h_q + x_a - 1 - z_1 - ... - z_k)``.
  On a canonical pair this is the exact zero test ``ReLU(1 - p - m)``.
- Re-canonicalisation. The new pair of a counter after ``+1`` is
  ``(ReLU(p - m + 1), ReLU(m - p - 1))``, and a selector cannot multiply it in one
  layer, so it is expanded per event: ``p' = p + [E & m = 0]`` and
  ``m' = m - [E] + [E & m = 0]`` (and symmetrically for ``-1``). Each bracket is one
  unit, and the pair stays canonical.
- The guard ``idx != 0`` of ``unequal`` is ``[E] - [E & idx+ = idx- = 0]``.
- ``reject = 1 - (sum of the other next control units)``: the output layer makes
  the control vector one-hot without a unit of its own.

The readout is ``accept - 1/2``, positive iff the machine accepts.

Repair of the reset ``idx = 0``
-------------------------------
The machine resets ``idx`` to 0 when ``equal`` reads ``|``. No ReLU MLP can do
that for an unbounded counter: an MLP is Lipschitz in ``[h, x]``, but in state
``equal`` with ``idx = k`` the tokens ``0`` and ``|`` must give next states whose
``idx`` coordinates differ by ``k``. The RNN instead drains ``idx`` towards 0 by
one per ``0`` that ``equal`` reads (``idx+ -= [E & idx+ >= 1]``, the same for
``idx-``). ``equal`` reads ``v`` zeros for an edge ``u -> v`` entered with
``idx = u``, so ``idx`` is 0 at the ``|`` whenever ``v >= u``. On every stream
whose edge blocks have ``v >= u`` (every encoded sorted instance) the RNN and the
machine have the same control state and ``S`` at every position, the same ``idx``
outside ``equal`` (and outside ``reject``, which ``equal`` may enter with a
partly drained ``idx`` and which no token leaves), and the same answer. On a
stream with a backward edge they can differ (:data:`BACKWARD_EDGE_STREAM` is
one); :func:`first_undrained_reset` finds where.

The ``idx_guard=False`` ablation drops the guard of ``unequal``, like
``counter_step(..., idx_guard=False)``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from fractions import Fraction

from circuitlab.constructions.builder import Affine, ReluLayerBuilder, UnitSum
from circuitlab.errors import ProblemError
from circuitlab.problems.counter_machine import (
    CounterConfig,
    CounterState,
    trace_counter_machine,
)
from circuitlab.problems.graph_connectivity import (
    STREAM_ALPHABET,
    FunctionalGraph,
    SortedInstance,
    encode_sorted_stream,
    layered_reduction,
    make_target_sink,
)

logger = logging.getLogger(__name__)

__all__ = [
    "COUNTER_SPEC_NAME",
    "CONTROL_STATES",
    "COUNTER_COORDINATES",
    "COUNTER_STATE_NAMES",
    "BACKWARD_EDGE_STREAM",
    "BuiltSpec",
    "connectivity_counter_spec",
    "decode_counter_state",
    "connectivity_stream",
    "first_undrained_reset",
]

COUNTER_SPEC_NAME = "connectivity-counter"
"""Name of the shipped spec (``rnn_specs/connectivity-counter.toml``)."""

CONTROL_STATES: tuple[str, ...] = tuple(state.value for state in CounterState)
"""Control coordinates in state order: the six working states, accept, reject."""

COUNTER_COORDINATES: tuple[str, ...] = ("S+", "S-", "idx+", "idx-")
"""Counter coordinates in state order."""

COUNTER_STATE_NAMES: tuple[str, ...] = CONTROL_STATES + COUNTER_COORDINATES
"""All state coordinates of the counter RNN, in order."""

BACKWARD_EDGE_STREAM = "00|00|0|00|00000|#0$"
"""A stream with the backward edge ``2 -> 1`` on which RNN and machine differ.

The machine resets ``idx`` after the edge and accepts. The RNN's drain reads one
zero for ``idx = 2`` and keeps ``idx = 1``, so ``unequal`` restores ``S`` by one
too many on the next edge and the RNN rejects.
"""


@dataclass(frozen=True)
class BuiltSpec:
    """A construction's spec table with the names behind its rows.

    Attributes
    ----------
    table : dict
        The spec table, accepted by :func:`circuitlab.spec.parse_spec`.
    state_names : tuple[str, ...]
        Name of each state coordinate.
    unit_labels : tuple[str, ...]
        What each hidden unit computes, for comments and docs.
    """

    table: dict
    state_names: tuple[str, ...]
    unit_labels: tuple[str, ...]

    @property
    def hidden_units(self) -> int:
        """Width of the hidden layer."""
        return len(self.unit_labels)


class _Event:
    """Selector ``[Q & a & zeros = 0]``, optionally with ``not (guard all 0)``."""

    def __init__(
        self,
        builder: ReluLayerBuilder,
        states: Sequence[str],
        token: str,
        *,
        guard: Sequence[str] = (),
    ) -> None:
        self.builder = builder
        self.states = tuple(states)
        self.token = token
        self.guard = tuple(guard)

    def _base(self) -> Affine:
        b = self.builder
        return b.vars(self.states) + b.token(self.token) - 1

    def _label(self, zeros: Sequence[str]) -> str:
        text = f"[{'|'.join(self.states)} & '{self.token}'"
        if zeros:
            text += " & " + " = ".join(zeros) + " = 0"
        return text + "]"

    def _zero_unit(self, zeros: Sequence[str]) -> UnitSum:
        b = self.builder
        return b.relu(self._base() - b.vars(zeros), self._label(zeros))

    def indicator(self, zeros: Sequence[str] = ()) -> UnitSum:
        """Return ``[event & every counter coordinate in zeros is 0]``."""
        value = self._zero_unit(zeros)
        if self.guard:
            guarded = tuple(dict.fromkeys(tuple(zeros) + self.guard))
            value = value - self._zero_unit(guarded)
        return value


def _increment(plus: str, minus: str, event: _Event):
    """Return the changes of ``(plus, minus)`` when ``event`` adds 1 to the counter."""
    gained = event.indicator([minus])
    return gained, gained - event.indicator()


def _decrement(plus: str, minus: str, event: _Event):
    """Return the changes of ``(plus, minus)`` when ``event`` subtracts 1."""
    lost = event.indicator([plus])
    return lost - event.indicator(), lost


def _drain(plus: str, minus: str, event: _Event):
    """Return the changes of ``(plus, minus)`` moving the counter one step to 0."""
    return (
        event.indicator([plus]) - event.indicator(),
        event.indicator([minus]) - event.indicator(),
    )


def connectivity_counter_spec(*, idx_guard: bool = True) -> BuiltSpec:
    """Build the ReLU counter RNN for sorted deterministic graph connectivity.

    Parameters
    ----------
    idx_guard : bool
        False builds the ablation without the ``idx != 0`` guard of ``unequal``,
        which decides some instances wrongly (named
        ``connectivity-counter-no-guard``; not shipped).

    Returns
    -------
    BuiltSpec
        An ``mlp`` spec with ``D = 12``, one hidden ReLU layer and the readout
        ``accept - 1/2``.

    Examples
    --------
    >>> built = connectivity_counter_spec()
    >>> built.table["state_dim"], len(built.table["layers"])
    (12, 2)
    """
    b = ReluLayerBuilder(COUNTER_STATE_NAMES, STREAM_ALPHABET)
    on = b.relu  # short alias for plain selectors
    control = {}

    source_zero = on(b.vars(["source"]) + b.token("0") - 1, "[source & '0']")
    to_edge = on(
        b.vars(["source", "equal", "unequal"]) + b.token("|") - 1,
        "[source|equal|unequal & '|']",
    )
    to_left = on(b.vars(["edge", "left"]) + b.token("0") - 1, "[edge|left & '0']")
    equal_zero = on(b.vars(["equal"]) + b.token("0") - 1, "[equal & '0']")
    unequal_zero = on(b.vars(["unequal"]) + b.token("0") - 1, "[unequal & '0']")
    left_bar = on(b.vars(["left"]) + b.token("|") - 1, "[left & '|']")
    left_bar_s_zero = on(
        b.vars(["left"]) + b.token("|") - 1 - b.vars(["S+", "S-"]),
        "[left & '|' & S = 0]",
    )
    edge_hash = on(b.vars(["edge"]) + b.token("#") - 1, "[edge & '#']")
    target_zero = on(b.vars(["target"]) + b.token("0") - 1, "[target & '0']")
    accept = on(
        b.vars(["target"]) + b.token("$") - 1 - b.vars(["S+", "S-"]),
        "[target & '$' & S = 0]",
    )

    control["source"] = source_zero
    control["edge"] = to_edge
    control["left"] = to_left
    control["equal"] = equal_zero + left_bar_s_zero
    control["unequal"] = unequal_zero + left_bar - left_bar_s_zero
    control["target"] = edge_hash + target_zero
    control["accept"] = accept
    others = UnitSum()
    for value in control.values():
        others = others + value
    control["reject"] = 1 - others
    for name, value in control.items():
        b.set_output(name, value)

    idx = ("idx+", "idx-")
    s_up = _Event(b, ["source", "equal"], "0")
    s_down = _Event(b, ["edge", "left", "target"], "0")
    restore = _Event(b, ["unequal"], "0", guard=idx if idx_guard else ())
    idx_up = _Event(b, ["edge", "left"], "0")
    drain = _Event(b, ["equal"], "0")

    s_plus = b.relu(b.var("S+"), "S+")
    s_minus = b.relu(b.var("S-"), "S-")
    for dp, dm in (
        _increment("S+", "S-", s_up),
        _increment("S+", "S-", restore),
        _decrement("S+", "S-", s_down),
    ):
        s_plus, s_minus = s_plus + dp, s_minus + dm
    b.set_output("S+", s_plus)
    b.set_output("S-", s_minus)

    i_plus = b.relu(b.var("idx+"), "idx+")
    i_minus = b.relu(b.var("idx-"), "idx-")
    for dp, dm in (
        _increment("idx+", "idx-", idx_up),
        _decrement("idx+", "idx-", restore),
    ):
        i_plus, i_minus = i_plus + dp, i_minus + dm
    drain_plus, drain_minus = _drain("idx+", "idx-", drain)
    b.set_output("idx+", i_plus + drain_plus)
    b.set_output("idx-", i_minus + drain_minus)

    name = COUNTER_SPEC_NAME if idx_guard else f"{COUNTER_SPEC_NAME}-no-guard"
    description = (
        "ReLU counter RNN (one hidden layer) deciding sorted deterministic graph "
        "connectivity on the stream 0^s | (0^u | 0^v |)* # 0^t $"
    )
    if not idx_guard:
        description += "; ablation without the idx != 0 guard (wrong on some inputs)"
    table = b.spec(
        name=name,
        description=description,
        initial={"source": 1},
        readout={"accept": 1},
        readout_bias=Fraction(-1, 2),
    )
    return BuiltSpec(table, COUNTER_STATE_NAMES, tuple(b.labels))


def decode_counter_state(state: Sequence) -> CounterConfig:
    """Read a counter RNN state as a machine configuration ``(state, S, idx)``.

    Raises
    ------
    ProblemError
        If the control part is not one-hot or a counter pair is not a canonical
        pair of non-negative integers.
    """
    values = list(state)
    if len(values) != len(COUNTER_STATE_NAMES):
        raise ProblemError(
            f"counter RNN state has {len(values)} coordinates, expected "
            f"{len(COUNTER_STATE_NAMES)}"
        )
    control = values[: len(CONTROL_STATES)]
    active = [i for i, v in enumerate(control) if v != 0]
    if len(active) != 1 or control[active[0]] != 1:
        raise ProblemError(f"control part {[str(v) for v in control]} is not one-hot")
    pairs = values[len(CONTROL_STATES) :]
    for name, value in zip(COUNTER_COORDINATES, pairs, strict=True):
        if value < 0 or value != int(value):
            raise ProblemError(f"counter coordinate {name} = {value} is not a natural")
    s_plus, s_minus, i_plus, i_minus = (int(v) for v in pairs)
    if s_plus and s_minus or i_plus and i_minus:
        raise ProblemError(f"counter pairs {pairs} are not canonical")
    return CounterConfig(
        CounterState(CONTROL_STATES[active[0]]), s_plus - s_minus, i_plus - i_minus
    )


def connectivity_stream(
    graph: FunctionalGraph | SortedInstance,
    source: int | None = None,
    target: int | None = None,
) -> str:
    """Return the stream on which the counter RNN decides reachability.

    A functional graph goes through the layered reduction. A sorted instance
    whose target has an out-edge loses that edge (it never changes whether the
    target is reachable), so the machine's promise (the target is a sink) holds.

    Parameters
    ----------
    graph : FunctionalGraph or SortedInstance
        The graph.
    source, target : int, optional
        Query vertices; required for a functional graph, and override a sorted
        instance's own.

    Raises
    ------
    ProblemError
        If a query vertex is missing or out of range.

    Examples
    --------
    >>> connectivity_stream(SortedInstance(3, 1, 2, [(1, 2), (2, 3)]))
    '0|0|00|#00$'
    """
    if isinstance(graph, FunctionalGraph):
        if source is None or target is None:
            raise ProblemError("a functional graph query needs source and target")
        return encode_sorted_stream(layered_reduction(graph, source, target))
    if not isinstance(graph, SortedInstance):
        raise ProblemError(
            f"expected a FunctionalGraph or SortedInstance, got {type(graph).__name__}"
        )
    instance = graph
    if source is not None or target is not None:
        instance = SortedInstance(
            graph.num_vertices,
            graph.source if source is None else source,
            graph.target if target is None else target,
            graph.edges,
        )
    return encode_sorted_stream(make_target_sink(instance))


def first_undrained_reset(
    tokens: str | Iterable[str], *, idx_guard: bool = True
) -> int | None:
    """Return where the RNN's drain of ``idx`` first falls short of the reset.

    Up to the returned position the counter RNN and the machine have the same
    configuration after every token, except ``idx`` in ``equal`` and ``reject``
    (where it never matters again). At the
    returned position ``equal`` reads ``|`` after fewer zeros than ``|idx|``, so
    the machine resets ``idx`` to 0 and the RNN keeps the rest. With None the
    two agree on the whole stream, accept bit included.

    Parameters
    ----------
    tokens : str or iterable of str
        The stream.
    idx_guard : bool
        Follow the machine with (True) or without the ``unequal`` guard.

    Examples
    --------
    >>> first_undrained_reset("0|0|000|#000$") is None
    True
    >>> first_undrained_reset(BACKWARD_EDGE_STREAM)
    7
    """
    tokens = list(tokens)
    trace = trace_counter_machine(tokens, idx_guard=idx_guard)
    zeros = 0
    for position, token in enumerate(tokens):
        config = trace[position]
        if config.state is not CounterState.EQUAL:
            zeros = 0
            continue
        if token == "0":
            zeros += 1
        elif token == "|" and abs(config.idx) > zeros:
            return position
    return None
