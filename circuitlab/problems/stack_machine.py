"""Three-stack machine for the monotone circuit value problem, with exact stacks.

Language
--------
The machine reads CVP streams (see :mod:`circuitlab.problems.circuit_value`), one
token per step: the bits of ``w``, then one ``#`` per further step. It accepts
``w #^m`` iff ``w = cvp_program_bits(P)`` for a program ``P`` that evaluates to 1
and ``m >= 3 |w| + 2 - 2 I``, where ``I`` is the number of instructions of ``P``:
a valid program halts after exactly that many padding steps. The padded language

    L = { w #^p(|w|) : w = cvp_program_bits(P), P evaluates to 1 },  p(n) = 3 n + 2

(:func:`~circuitlab.problems.circuit_value.cvp_padding_length`) is therefore
decided by the machine. It is P-complete: monotone CVP with gates listed in
topological order is P-complete, and such an instance maps to its stream in
logarithmic space (an operand offset is a difference of two gate indices).

Machine
-------
Three stacks over ``{0, 1}``: ``program``, ``values`` and ``temp``. Phases:

- ``read``: push each bit of ``w`` onto ``temp``.
- ``reverse``: move ``temp`` onto ``program``, one bit per ``#``, so the first
  bit of ``w`` ends on top. The first ``#`` already moves a bit.
- ``instr``: pop an instruction bit (``0``: constant, ``1``: gate). With an empty
  program, halt and accept iff the top of ``values`` is 1.
- ``const``: pop the constant bit and push it onto ``values``.
- ``op``: pop the gate type into the control register ``op``.
- ``seek1``/``seek2``: per unary ``1`` of the offset, move the top of ``values``
  onto ``temp``. On the closing ``0``, latch the top of ``values`` (the operand)
  into the register ``value``; ``seek2`` latches ``op(first, second)`` instead.
- ``restore1``/``restore2``: move ``temp`` back onto ``values``. When ``temp`` is
  empty, ``restore1`` goes to ``seek2`` and ``restore2`` pushes ``value``.
- ``accept``/``reject``: absorbing on ``#``. A malformed stream (a bit after a
  ``#``, a truncated instruction, an offset deeper than the value stack) rejects.

Each step is a function of ``(control, token, tops)`` only, where ``tops`` gives
each stack's top bit or None when empty: :func:`stack_transition`, tabulated in
full by :func:`stack_transition_table`. Suggested ReLU RNN layout: a one-hot
phase (11 units), registers ``op`` and ``value`` as 0/1 units, and a one-hot
token (3 units). Each stack is one rational scalar in the gapped encoding below,
and the hidden layer reads its top and emptiness with :func:`gapped_head` and
:func:`gapped_nonempty`.

Gapped stack encoding
---------------------
A stack ``b_1 b_2 ... b_k`` (top first) is ``E = sum_i (2 b_i + 1) / 4^i``:
base 4 with digits 1 and 3, so ``E(empty) = 0`` and ``E(b w) = (2b + 1 +
E(w)) / 4``. A top 0 puts ``E`` in ``[1/4, 1/2)`` and a top 1 in ``[3/4, 1)``.
The gap ``[1/2, 3/4)`` lets fixed ReLU thresholds read the top exactly at every
depth. ``E`` of a depth-``k`` stack has denominator ``4^k``, so it takes at most
``4 k + 1`` bits (numerator plus denominator), and ``O(T)`` bits after ``T``
operations: polynomial precision.

The base-2 encoding ``push_b(s) = b + s / 2`` with ``head(s) = [s >= 1]`` has no
gap: the stack ``0 1 1 ... 1`` (top first, ``k`` ones) is ``1 - 2^-k``, and any
ReLU ramp of fixed width ``w`` misreads its top once ``2^-k < w``.
:func:`base2_head` implements that ramp for comparison.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from fractions import Fraction
from typing import NamedTuple

from circuitlab.errors import ProblemError
from circuitlab.problems.circuit_value import (
    CVP_STREAM_ALPHABET,
    BooleanCircuit,
    encode_cvp_stream,
)

logger = logging.getLogger(__name__)

__all__ = [
    "STACK_NAMES",
    "relu",
    "gapped_push",
    "gapped_head",
    "gapped_nonempty",
    "gapped_pop",
    "gapped_encode",
    "gapped_decode",
    "value_bits",
    "base2_push",
    "base2_head",
    "base2_pop",
    "Phase",
    "StackAction",
    "StackControl",
    "INITIAL_STACK_CONTROL",
    "StackRun",
    "StackStep",
    "stack_transition",
    "stack_transition_table",
    "run_stack_machine",
    "decide_cvp",
]

STACK_NAMES: tuple[str, ...] = ("program", "values", "temp")
"""Stack order in ``tops`` and action tuples."""

_QUARTER = Fraction(1, 4)
_HALF = Fraction(1, 2)
_THREE_QUARTERS = Fraction(3, 4)


# ---------------------------------------------------------------------------
# Gapped base-4 encoding (exact) and the base-2 ablation
# ---------------------------------------------------------------------------


def relu(x: Fraction) -> Fraction:
    """Return ``max(x, 0)``."""
    return x if x > 0 else Fraction(0)


def gapped_push(s: Fraction, bit: int | Fraction) -> Fraction:
    """Push ``bit``: ``(2 bit + 1 + s) / 4``, affine in ``s`` and ``bit``."""
    return (2 * bit + 1 + s) * _QUARTER


def gapped_head(s: Fraction) -> Fraction:
    """Top bit: ``4 ReLU(s - 1/2) - 4 ReLU(s - 3/4)``, and 0 for the empty stack."""
    return 4 * relu(s - _HALF) - 4 * relu(s - _THREE_QUARTERS)


def gapped_nonempty(s: Fraction) -> Fraction:
    """Emptiness flag: ``4 s - ReLU(4 s - 1)``, 1 on any nonempty stack, else 0."""
    return 4 * s - relu(4 * s - 1)


def gapped_pop(s: Fraction) -> Fraction:
    """Pop: ``4 s - 2 head(s) - nonempty(s)``.

    On a nonempty stack this is ``4 s - (2 head(s) + 1)``, and the empty stack
    stays empty (the ``nonempty`` term replaces the constant 1).
    """
    return 4 * s - 2 * gapped_head(s) - gapped_nonempty(s)


def gapped_encode(stack: Sequence[int]) -> Fraction:
    """Encode a Python-list stack (top last) as its gapped value.

    Examples
    --------
    >>> gapped_encode([1, 0])  # top 0 over 1
    Fraction(7, 16)
    """
    value = Fraction(0)
    for bit in stack:
        value = gapped_push(value, bit)
    return value


def gapped_decode(s: Fraction) -> list[int]:
    """Decode a gapped value into a Python-list stack (top last).

    Raises
    ------
    ProblemError
        If ``s`` is not the encoding of any stack.
    """
    bits_top_first = []
    value = Fraction(s)
    while value != 0:
        head, nonempty = gapped_head(value), gapped_nonempty(value)
        if nonempty != 1 or head not in (0, 1):
            raise ProblemError(f"{s} is not a gapped stack encoding")
        bits_top_first.append(int(head))
        value = gapped_pop(value)
    return bits_top_first[::-1]


def value_bits(x: Fraction) -> int:
    """Return the bit length of the numerator plus that of the denominator."""
    return abs(x.numerator).bit_length() + x.denominator.bit_length()


def base2_push(s: Fraction, bit: int | Fraction) -> Fraction:
    """Push in the ungapped base-2 encoding: ``bit + s / 2``."""
    return bit + s * _HALF


def base2_head(s: Fraction, ramp_width: Fraction) -> Fraction:
    """Read ``[s >= 1]`` with a ReLU ramp of fixed width.

    ``(ReLU(s - 1 + w) - ReLU(s - 1)) / w`` is 0 below ``1 - w``, 1 from 1 on, and
    fractional in between, where stacks ``0 1 1 ... 1`` with enough ones lie.
    """
    if ramp_width <= 0:
        raise ProblemError(f"ramp_width {ramp_width} must be positive")
    return (relu(s - 1 + ramp_width) - relu(s - 1)) / ramp_width


def base2_pop(s: Fraction, ramp_width: Fraction) -> Fraction:
    """Pop in the base-2 encoding: ``2 (s - head(s))``, exact only if the head is."""
    return 2 * (s - base2_head(s, ramp_width))


# ---------------------------------------------------------------------------
# Machine
# ---------------------------------------------------------------------------


class Phase(StrEnum):
    """Phase of the finite control."""

    READ = "read"
    REVERSE = "reverse"
    INSTR = "instr"
    CONST = "const"
    OP = "op"
    SEEK1 = "seek1"
    RESTORE1 = "restore1"
    SEEK2 = "seek2"
    RESTORE2 = "restore2"
    ACCEPT = "accept"
    REJECT = "reject"


class StackAction(StrEnum):
    """Action on one stack in one step."""

    KEEP = "keep"
    POP = "pop"
    PUSH0 = "push0"
    PUSH1 = "push1"


class StackControl(NamedTuple):
    """Finite control: the phase and two bit registers.

    ``op`` is the gate type (0: AND, 1: OR) from ``op`` to ``restore2``.
    ``value`` is the first operand in ``restore1`` and ``seek2``, and the gate's
    result in ``restore2``. Both are 0 elsewhere.
    """

    phase: Phase
    op: int = 0
    value: int = 0


INITIAL_STACK_CONTROL = StackControl(Phase.READ)
"""Control before the first token."""

_REJECTED = StackControl(Phase.REJECT)
_KEEP = StackAction.KEEP
_POP = StackAction.POP
_PUSH = (StackAction.PUSH0, StackAction.PUSH1)
_NO_ACTION = (_KEEP, _KEEP, _KEEP)

Top = int | None
"""Top bit of a stack, or None when it is empty."""


def stack_transition(
    control: StackControl, token: str, tops: tuple[Top, Top, Top]
) -> tuple[StackControl, tuple[StackAction, StackAction, StackAction]]:
    """Return the next control and the action on each stack for one step.

    Parameters
    ----------
    control : StackControl
        Control before the step.
    token : str
        ``'0'``, ``'1'`` or ``'#'``. Any other token rejects.
    tops : tuple
        Top bit (or None if empty) of the program, values and temp stacks.

    Returns
    -------
    control : StackControl
        Control after the step.
    actions : tuple[StackAction, StackAction, StackAction]
        Actions on the program, values and temp stacks. A pop never hits an
        empty stack.

    Examples
    --------
    >>> control, actions = stack_transition(INITIAL_STACK_CONTROL, "1", (None,) * 3)
    >>> [str(action) for action in actions]
    ['keep', 'keep', 'push1']
    """
    program, values, temp = tops
    phase = control.phase
    if phase is Phase.ACCEPT or phase is Phase.REJECT:
        return (StackControl(phase) if token == "#" else _REJECTED), _NO_ACTION
    if phase is Phase.READ and token in ("0", "1"):
        return control, (_KEEP, _KEEP, _PUSH[int(token)])
    if token != "#":
        return _REJECTED, _NO_ACTION

    if phase is Phase.READ or phase is Phase.REVERSE:
        if temp is None:
            return StackControl(Phase.INSTR), _NO_ACTION
        return StackControl(Phase.REVERSE), (_PUSH[temp], _KEEP, _POP)

    if phase is Phase.RESTORE1 or phase is Phase.RESTORE2:
        if temp is not None:
            return control, (_KEEP, _PUSH[temp], _POP)
        if phase is Phase.RESTORE1:
            return StackControl(Phase.SEEK2, control.op, control.value), _NO_ACTION
        return StackControl(Phase.INSTR), (_KEEP, _PUSH[control.value], _KEEP)

    if phase is Phase.INSTR:
        if program is None:
            if values is None:
                return _REJECTED, _NO_ACTION
            return StackControl(Phase.ACCEPT if values else Phase.REJECT), _NO_ACTION
        next_phase = Phase.OP if program else Phase.CONST
        return StackControl(next_phase), (_POP, _KEEP, _KEEP)

    # The remaining phases read the program and reject on a truncated one.
    if program is None:
        return _REJECTED, _NO_ACTION
    if phase is Phase.CONST:
        return StackControl(Phase.INSTR), (_POP, _PUSH[program], _KEEP)
    if phase is Phase.OP:
        return StackControl(Phase.SEEK1, program), (_POP, _KEEP, _KEEP)

    # SEEK1 or SEEK2: an offset deeper than the value stack rejects.
    if values is None:
        return _REJECTED, _NO_ACTION
    if program == 1:
        return control, (_POP, _POP, _PUSH[values])
    if phase is Phase.SEEK1:
        return StackControl(Phase.RESTORE1, control.op, values), (_POP, _KEEP, _KEEP)
    result = (control.value | values) if control.op else (control.value & values)
    return StackControl(Phase.RESTORE2, control.op, result), (_POP, _KEEP, _KEEP)


def stack_transition_table() -> dict[
    tuple[StackControl, str, tuple[Top, Top, Top]],
    tuple[StackControl, tuple[StackAction, StackAction, StackAction]],
]:
    """Tabulate :func:`stack_transition` on every control, token and tops.

    Returns
    -------
    dict
        44 controls (11 phases times two register bits) times 3 tokens times 27
        tops, 3564 entries.
    """
    controls = [
        StackControl(phase, op, value)
        for phase in Phase
        for op in (0, 1)
        for value in (0, 1)
    ]
    tops_options = list(itertools.product((None, 0, 1), repeat=3))
    return {
        (control, token, tops): stack_transition(control, token, tops)
        for control in controls
        for token in CVP_STREAM_ALPHABET
        for tops in tops_options
    }


class _ListStacks:
    """Reference stacks as Python lists (top last)."""

    def __init__(self) -> None:
        self.stacks: list[list[int]] = [[], [], []]

    def tops(self) -> tuple[Top, Top, Top]:
        return tuple(stack[-1] if stack else None for stack in self.stacks)

    def apply(self, actions: Sequence[StackAction]) -> None:
        for stack, action in zip(self.stacks, actions, strict=True):
            if action is _POP:
                stack.pop()
            elif action is not _KEEP:
                stack.append(1 if action is StackAction.PUSH1 else 0)

    def depths(self) -> tuple[int, int, int]:
        return tuple(len(stack) for stack in self.stacks)

    def max_bits(self) -> int | None:
        return None


class _GappedStacks:
    """Stacks as exact rationals in the gapped encoding; tops read by ReLU formulas."""

    def __init__(self) -> None:
        self.values = [Fraction(0)] * 3
        self.sizes = [0, 0, 0]
        self.peak_bits = 1

    def tops(self) -> tuple[Top, Top, Top]:
        tops = []
        for name, value in zip(STACK_NAMES, self.values, strict=True):
            nonempty, head = gapped_nonempty(value), gapped_head(value)
            if nonempty not in (0, 1) or head not in (0, 1):
                raise ProblemError(
                    f"{name} stack value {value} has head {head} and nonempty "
                    f"{nonempty}; the gapped encoding is broken"
                )
            tops.append(int(head) if nonempty else None)
        return tuple(tops)

    def apply(self, actions: Sequence[StackAction]) -> None:
        for i, action in enumerate(actions):
            if action is _KEEP:
                continue
            if action is _POP:
                self.values[i] = gapped_pop(self.values[i])
                self.sizes[i] -= 1
            else:
                bit = 1 if action is StackAction.PUSH1 else 0
                self.values[i] = gapped_push(self.values[i], bit)
                self.sizes[i] += 1
            self.peak_bits = max(self.peak_bits, value_bits(self.values[i]))

    def depths(self) -> tuple[int, int, int]:
        return tuple(self.sizes)

    def max_bits(self) -> int | None:
        return self.peak_bits


class StackStep(NamedTuple):
    """One traced step: control and actions after the token, then stack depths."""

    token: str
    control: StackControl
    actions: tuple[StackAction, StackAction, StackAction]
    depths: tuple[int, int, int]


@dataclass(frozen=True)
class StackRun:
    """Statistics of one run of the stack machine.

    Attributes
    ----------
    accepted : bool
        Whether the machine ended in ``accept``.
    halted : bool
        Whether it reached ``accept`` or ``reject`` (False means too little
        padding).
    steps : int
        Tokens read, one step each.
    halt_step : int or None
        Number of tokens read when it halted.
    stack_operations : int
        Pushes plus pops over all stacks.
    max_depth : tuple[int, int, int]
        Max depth of the program, values and temp stacks.
    max_value_bits : int or None
        With the gapped backend, the max of :func:`value_bits` over all stack
        values. None for the list backend.
    trace : tuple[StackStep, ...] or None
        Every step, when requested.
    """

    accepted: bool
    halted: bool
    steps: int
    halt_step: int | None
    stack_operations: int
    max_depth: tuple[int, int, int]
    max_value_bits: int | None
    trace: tuple[StackStep, ...] | None


def run_stack_machine(
    tokens: Iterable[str],
    *,
    backend: str = "list",
    max_steps: int | None = None,
    trace: bool = False,
) -> tuple[bool, StackRun]:
    """Run the stack machine on a stream, one step per token.

    Parameters
    ----------
    tokens : str or iterable of str
        Program bits then ``#`` padding, one character per token.
    backend : {"list", "gapped"}
        ``list`` keeps stacks as Python lists. ``gapped`` keeps each stack as one
        exact rational and reads tops with the ReLU formulas, as an RNN would.
    max_steps : int, optional
        Reject streams longer than this many tokens with an error instead of
        running them.
    trace : bool
        Record every step in :attr:`StackRun.trace`.

    Returns
    -------
    accepted : bool
        Whether the machine accepts.
    run : StackRun
        Statistics of the run.

    Raises
    ------
    ProblemError
        If the backend is unknown or the stream exceeds ``max_steps``.

    Examples
    --------
    >>> accepted, run = run_stack_machine("010011100" + "#" * 29)
    >>> accepted, run.halted, run.max_depth
    (True, True, (9, 3, 9))
    """
    stream = "".join(tokens)
    if max_steps is not None and len(stream) > max_steps:
        raise ProblemError(
            f"stream has {len(stream)} tokens, above max_steps={max_steps}; "
            f"raise max_steps to run it"
        )
    if backend == "list":
        stacks: _ListStacks | _GappedStacks = _ListStacks()
    elif backend == "gapped":
        stacks = _GappedStacks()
    else:
        raise ProblemError(f"unknown backend {backend!r}; use 'list' or 'gapped'")

    control = INITIAL_STACK_CONTROL
    operations = 0
    max_depth = [0, 0, 0]
    halt_step = None
    steps: list[StackStep] = []
    for count, token in enumerate(stream, start=1):
        control, actions = stack_transition(control, token, stacks.tops())
        stacks.apply(actions)
        operations += sum(action is not _KEEP for action in actions)
        depths = stacks.depths()
        max_depth = [max(old, new) for old, new in zip(max_depth, depths, strict=True)]
        if halt_step is None and control.phase in (Phase.ACCEPT, Phase.REJECT):
            halt_step = count
        if trace:
            steps.append(StackStep(token, control, actions, depths))

    accepted = control.phase is Phase.ACCEPT
    run = StackRun(
        accepted=accepted,
        halted=control.phase in (Phase.ACCEPT, Phase.REJECT),
        steps=len(stream),
        halt_step=halt_step,
        stack_operations=operations,
        max_depth=tuple(max_depth),
        max_value_bits=stacks.max_bits(),
        trace=tuple(steps) if trace else None,
    )
    if not run.halted:
        logger.debug("stack machine did not halt within %d steps", len(stream))
    return accepted, run


def decide_cvp(
    circuit: BooleanCircuit,
    assignment: Mapping[str, bool | int] | Sequence[bool | int],
    output: str | None = None,
    *,
    backend: str = "list",
) -> bool:
    """Decide a monotone CVP instance by encoding it and running the stack machine.

    Examples
    --------
    >>> c = BooleanCircuit(["a", "b"], {"z": ("AND", ["a", "b"])}, ["z"])
    >>> decide_cvp(c, [1, 0])
    False
    """
    accepted, _ = run_stack_machine(
        encode_cvp_stream(circuit, assignment, output), backend=backend
    )
    return accepted
