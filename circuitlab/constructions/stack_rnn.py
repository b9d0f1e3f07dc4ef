"""ReLU stack RNN running the three-stack CVP machine (polynomial precision).

The RNN simulates :func:`circuitlab.problems.stack_machine.stack_transition`, one
machine step per token of a CVP stream (program bits, then ``#`` padding; see
:func:`~circuitlab.problems.circuit_value.encode_cvp_stream`). Its update is a
ReLU MLP with **one hidden layer** on ``[h, x]``, ``x`` the one-hot token over
``0 1 #``. The readout ``accept - 1/2`` is positive iff the machine accepts.

State (``D = 22``)
------------------
- 11 phase coordinates, one-hot (``read`` ... ``reject``).
- ``op_reg``, ``value_reg``: the registers ``op`` and ``value``, 0/1.
- Per stack ``j`` in ``program, values, temp``: ``s_j``, the stack in the gapped
  base-4 encoding (``E(empty) = 0``, ``E(b w) = (2b + 1 + E(w)) / 4``), and two
  cached bits: ``ne_j`` (the stack is nonempty) and ``t_j`` (its top bit, 0 when
  empty).

Why the cached bits
-------------------
A transition depends on the phase, the token, the registers and the three tops
together. Reading a top from ``s_j`` costs one ReLU layer, and the conjunction of
several such tops another, so reading tops afresh each step needs two hidden
layers. The RNN keeps the tops as bits instead, so each transition rule is a
conjunction of 0/1 literals ``g = sum(literals) - k`` (0 when the rule fires, at
most -1 otherwise). Only a pop must read a new top, the second digit of ``s_j``,
and that is a fixed piecewise-linear function of ``s_j`` alone. Because
``0 <= s_j < 1``, shifting its ReLU thresholds by ``g`` switches it off when the
rule does not fire:

- keep (default): ``s' = s - [r] s`` summed over the rules ``r`` that act on the
  stack, with ``[r] s = ReLU(s + g)``; the same for ``ne`` and ``t``.
- push ``b`` (a constant, a state bit or the token bit): ``[r] push_b(s) =
  ReLU((2b + 1 + s) / 4 + g)``, new top ``[r] b = ReLU(g + b)``.
- pop: ``[r] pop(s) = 4 R(s - 1/4 + g) - 8 R(s - 1/2 + g) + 8 R(s - 3/4 + g)``,
  new top ``head2 = 16 R(s - 3/8) - 16 R(s - 7/16) - 4 R(s - 1/2) + 4 R(s - 3/4)
  + 16 R(s - 7/8) - 16 R(s - 15/16)`` and new emptiness flag ``ne2 = 16 R(s -
  1/4) - 16 R(s - 5/16) - 4 R(s - 1/2) + 20 R(s - 3/4) - 16 R(s - 13/16)``, every
  ``R(s - theta)`` shifted by ``g`` (``R = ReLU``).
- phases and registers: sums of ``ReLU(g + literal)``. The output layer sets
  ``reject = 1 - (sum of the other next phases)``, so a step that no rule covers
  rejects and keeps the stacks, as the machine does.

These readings are exact because the gapped encoding leaves a gap between the
values of a top 0 (``[1/4, 1/2)``) and a top 1 (``[3/4, 1)``) at every depth, so
the fixed thresholds never cut through a stack value.

Base-2 ablation
---------------
``encoding="base2"`` builds the same rules on the ungapped encoding
``push_b(s) = b + s / 2`` (values in ``[0, 2)``, top 1 iff ``s >= 1``). On a pop
the new top is read with the ramp ``(R(p - 1 + w) - R(p - 1)) / w`` of a fixed
width ``w`` at ``p = pop(s) = 2 (s - t)``. A stack ``0 1 1 ... 1`` with ``k`` ones
under the 0 has ``p = 1 - 2^-k``, inside the ramp once ``2^-k < w``, and the RNN
misreads it. Base 2 cannot tell an empty stack from a stack of zeros, so this
variant also keeps an integer depth per stack (``d_j``) to know when a pop
empties it; only the top reading differs from the gapped RNN.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from fractions import Fraction

from circuitlab.constructions.builder import (
    Affine,
    ReluLayerBuilder,
    UnitSum,
    conjunction,
)
from circuitlab.constructions.counter_rnn import BuiltSpec
from circuitlab.errors import ProblemError
from circuitlab.problems.circuit_value import CVP_STREAM_ALPHABET
from circuitlab.problems.stack_machine import (
    STACK_NAMES,
    Phase,
    StackControl,
    gapped_decode,
)

logger = logging.getLogger(__name__)

__all__ = [
    "STACK_SPEC_NAME",
    "PHASES",
    "STACK_ENCODINGS",
    "stack_state_names",
    "cvp_stack_spec",
    "StackRnnState",
    "decode_stack_state",
    "encode_stack_state",
]

STACK_SPEC_NAME = "cvp-stack"
"""Name of the shipped spec (``rnn_specs/cvp-stack.toml``)."""

PHASES: tuple[str, ...] = tuple(phase.value for phase in Phase)
"""Phase coordinates in state order."""

STACK_ENCODINGS = ("gapped", "base2")
"""Stack encodings :func:`cvp_stack_spec` can build."""

_SHORT = {"program": "P", "values": "V", "temp": "T"}


def stack_state_names(encoding: str = "gapped") -> tuple[str, ...]:
    """Return the state coordinate names of the stack RNN, in order."""
    names = list(PHASES) + ["op_reg", "value_reg"]
    for stack in STACK_NAMES:
        short = _SHORT[stack]
        names += [f"s_{short}", f"ne_{short}", f"t_{short}"]
        if encoding == "base2":
            names.append(f"d_{short}")
    return tuple(names)


@dataclass(frozen=True)
class _Rule:
    """One transition rule: literals, next phase, registers and stack actions.

    ``op`` and ``value`` are ``"keep"``, ``None`` (0), a bit name, or for
    ``value`` a pair ``("and" | "or", a, b)``. ``actions`` maps a stack's short
    name to ``"pop"`` or ``("push", bit)`` where ``bit`` is 0, 1 or a bit name.
    """

    name: str
    phases: tuple[str, ...]
    tokens: tuple[str, ...]
    conditions: tuple[tuple[str, int], ...]
    next_phase: str
    op: object = None
    value: object = None
    actions: dict = field(default_factory=dict)


def _rules() -> list[_Rule]:
    """Transition rules of the CVP machine; any step none of them covers rejects."""
    read, reverse = Phase.READ.value, Phase.REVERSE.value
    instr, const, op_phase = Phase.INSTR.value, Phase.CONST.value, Phase.OP.value
    seek1, seek2 = Phase.SEEK1.value, Phase.SEEK2.value
    restore1, restore2 = Phase.RESTORE1.value, Phase.RESTORE2.value
    accept = Phase.ACCEPT.value
    pad = ("#",)
    return [
        _Rule("accept stays", (accept,), pad, (), accept),
        _Rule(
            "read a program bit",
            (read,),
            ("0", "1"),
            (),
            read,
            op="keep",
            value="keep",
            actions={"T": ("push", "x:1")},
        ),
        _Rule("program reversed", (read, reverse), pad, (("ne_T", 0),), instr),
        _Rule(
            "move temp to program",
            (read, reverse),
            pad,
            (("ne_T", 1),),
            reverse,
            actions={"P": ("push", "t_T"), "T": "pop"},
        ),
        *[
            _Rule(
                f"{phase}: move temp to values",
                (phase,),
                pad,
                (("ne_T", 1),),
                phase,
                op="keep",
                value="keep",
                actions={"V": ("push", "t_T"), "T": "pop"},
            )
            for phase in (restore1, restore2)
        ],
        _Rule(
            "first operand restored",
            (restore1,),
            pad,
            (("ne_T", 0),),
            seek2,
            op="keep",
            value="keep",
        ),
        _Rule(
            "push the gate's value",
            (restore2,),
            pad,
            (("ne_T", 0),),
            instr,
            actions={"V": ("push", "value_reg")},
        ),
        _Rule(
            "halt with output 1",
            (instr,),
            pad,
            (("ne_P", 0), ("ne_V", 1), ("t_V", 1)),
            accept,
        ),
        _Rule(
            "gate instruction",
            (instr,),
            pad,
            (("ne_P", 1), ("t_P", 1)),
            op_phase,
            actions={"P": "pop"},
        ),
        _Rule(
            "constant instruction",
            (instr,),
            pad,
            (("ne_P", 1), ("t_P", 0)),
            const,
            actions={"P": "pop"},
        ),
        _Rule(
            "push the constant",
            (const,),
            pad,
            (("ne_P", 1),),
            instr,
            actions={"P": "pop", "V": ("push", "t_P")},
        ),
        _Rule(
            "latch the gate type",
            (op_phase,),
            pad,
            (("ne_P", 1),),
            seek1,
            op="t_P",
            actions={"P": "pop"},
        ),
        *[
            _Rule(
                f"{phase}: move a value to temp",
                (phase,),
                pad,
                (("ne_P", 1), ("ne_V", 1), ("t_P", 1)),
                phase,
                op="keep",
                value="keep",
                actions={"P": "pop", "V": "pop", "T": ("push", "t_V")},
            )
            for phase in (seek1, seek2)
        ],
        _Rule(
            "latch the first operand",
            (seek1,),
            pad,
            (("ne_P", 1), ("ne_V", 1), ("t_P", 0)),
            restore1,
            op="keep",
            value="t_V",
            actions={"P": "pop"},
        ),
        _Rule(
            "AND of the operands",
            (seek2,),
            pad,
            (("ne_P", 1), ("ne_V", 1), ("t_P", 0), ("op_reg", 0)),
            restore2,
            op="keep",
            value=("and", "value_reg", "t_V"),
            actions={"P": "pop"},
        ),
        _Rule(
            "OR of the operands",
            (seek2,),
            pad,
            (("ne_P", 1), ("ne_V", 1), ("t_P", 0), ("op_reg", 1)),
            restore2,
            op="keep",
            value=("or", "value_reg", "t_V"),
            actions={"P": "pop"},
        ),
    ]


class _StackRnnBuilder:
    """Emits the units of every rule into a :class:`ReluLayerBuilder`."""

    def __init__(self, encoding: str, ramp_width: Fraction) -> None:
        self.encoding = encoding
        self.ramp_width = ramp_width
        self.names = stack_state_names(encoding)
        self.b = ReluLayerBuilder(self.names, CVP_STREAM_ALPHABET)
        self.rows: dict[str, UnitSum] = {name: UnitSum() for name in self.names}
        # Stack values are below 1 (gapped) or 2 (base 2); this scales g so a
        # shifted term vanishes whenever its rule does not fire.
        self.scale = 1 if encoding == "gapped" else 4

    def literal(self, name: str, value: int = 1) -> Affine:
        if name.startswith("x:"):
            form = self.b.token(name[2:])
        else:
            form = self.b.var(name)
        return form if value else 1 - form

    def bit(self, bit) -> Affine:
        """Return a push bit or register source (0, 1, a bit name) as a form."""
        if bit in (0, 1):
            return Affine.of({}, bit)
        return self.literal(bit)

    def guard(self, rule: _Rule) -> Affine:
        literals = [self.b.vars(rule.phases), self.b.token(*rule.tokens)]
        literals += [self.literal(name, value) for name, value in rule.conditions]
        return conjunction(literals)

    def on(self, g: Affine, extra: Affine | int, label: str) -> UnitSum:
        """Return ``[rule] * extra`` for a 0/1 form ``extra``: ``ReLU(g + extra)``."""
        return self.b.relu(g + extra, label)

    def add(self, name: str, value: UnitSum) -> None:
        self.rows[name] = self.rows[name] + value

    def build(self) -> ReluLayerBuilder:
        for name in self.names:
            if name in PHASES or name in ("op_reg", "value_reg"):
                continue
            self.add(name, self.b.relu(self.b.var(name), name))
        for rule in _rules():
            self.emit(rule)
        phases = [p for p in PHASES if p != Phase.REJECT.value]
        others = UnitSum()
        for phase in phases:
            others = others + self.rows[phase]
        self.rows[Phase.REJECT.value] = 1 - others
        for name, value in self.rows.items():
            self.b.set_output(name, value)
        return self.b

    def emit(self, rule: _Rule) -> None:
        g = self.guard(rule)
        fired = self.on(g, 1, f"[{rule.name}]")
        self.add(rule.next_phase, fired)
        for register in ("op", "value"):
            self.add(f"{register}_reg", self.register(rule, register, g))
        for stack, action in rule.actions.items():
            self.act(rule, stack, action, g, fired)

    def register(self, rule: _Rule, register: str, g: Affine) -> UnitSum:
        source = getattr(rule, register)
        label = f"[{rule.name}] {register}"
        if source is None:
            return UnitSum()
        if source == "keep":
            return self.on(g, self.literal(f"{register}_reg"), label)
        if isinstance(source, tuple):
            kind, first, second = source
            both = self.on(g, self.literal(first) + self.literal(second) - 1, label)
            if kind == "and":
                return both
            return (
                self.on(g, self.literal(first), label)
                + self.on(g, self.literal(second), label)
                - both
            )
        return self.on(g, self.literal(source), label)

    def act(self, rule: _Rule, stack: str, action, g: Affine, fired: UnitSum) -> None:
        s, ne, top = (f"{k}_{stack}" for k in ("s", "ne", "t"))
        value = self.b.var(s)
        label = f"[{rule.name}] {stack}"
        # Remove the kept values, then add the new ones.
        self.add(s, -self.b.relu(value + self.scale * g, f"{label}: s"))
        self.add(ne, -self.on(g, self.literal(ne), f"{label}: ne"))
        self.add(top, -self.on(g, self.literal(top), f"{label}: t"))
        if self.encoding == "base2":
            depth = f"d_{stack}"
            self.add(depth, fired if action != "pop" else -fired)
        if action == "pop":
            self.pop(stack, g, fired, label)
            return
        _, bit = action
        bit_form = self.bit(bit)
        if self.encoding == "gapped":
            pushed = (2 * bit_form + 1 + value) * Fraction(1, 4)
        else:
            pushed = bit_form + value * Fraction(1, 2)
        self.add(s, self.b.relu(pushed + self.scale * g, f"{label}: push"))
        self.add(ne, fired)
        self.add(top, self.on(g, bit_form, f"{label}: pushed bit"))

    def pop(self, stack: str, g: Affine, fired: UnitSum, label: str) -> None:
        s, ne, top = (f"{k}_{stack}" for k in ("s", "ne", "t"))
        value = self.b.var(s)
        if self.encoding == "gapped":

            def ramp(theta: Fraction) -> UnitSum:
                return self.b.relu(value - theta + g, f"{label}: R(s - {theta})")

            q = Fraction(1, 16)
            self.add(s, 4 * ramp(4 * q) - 8 * ramp(8 * q) + 8 * ramp(12 * q))
            self.add(
                top,
                16 * ramp(6 * q)
                - 16 * ramp(7 * q)
                - 4 * ramp(8 * q)
                + 4 * ramp(12 * q)
                + 16 * ramp(14 * q)
                - 16 * ramp(15 * q),
            )
            self.add(
                ne,
                16 * ramp(4 * q)
                - 16 * ramp(5 * q)
                - 4 * ramp(8 * q)
                + 20 * ramp(12 * q)
                - 16 * ramp(13 * q),
            )
            return
        # Base 2: pop(s) = 2 (s - t); the new top is a fixed-width ramp at 1.
        popped = 2 * value - 2 * self.b.var(top)
        shift = self.scale * g
        self.add(s, self.b.relu(popped + shift, f"{label}: pop"))
        width = self.ramp_width
        high = self.b.relu(popped - 1 + width + shift, f"{label}: ramp high")
        low = self.b.relu(popped - 1 + shift, f"{label}: ramp low")
        self.add(top, (high - low) * (1 / width))
        # New emptiness flag: [depth >= 2] = [r] - [r & depth = 1]. Every pop rule
        # requires ne = 1, and ne = [depth >= 1], so g + 1 + ne - depth <= 0
        # unless the rule fires.
        depth = self.b.var(f"d_{stack}")
        one_left = self.b.relu(g + 1 + self.b.var(ne) - depth, f"{label}: depth 1")
        self.add(ne, fired - one_left)


def cvp_stack_spec(
    *, encoding: str = "gapped", ramp_width: Fraction | int | str = Fraction(1, 64)
) -> BuiltSpec:
    """Build the ReLU stack RNN that runs the CVP stack machine.

    Parameters
    ----------
    encoding : {"gapped", "base2"}
        ``gapped`` is the shipped construction. ``base2`` is the ablation on the
        ungapped encoding, which misreads deep stacks (named
        ``cvp-stack-base2``; not shipped).
    ramp_width : Fraction
        Width ``w`` of the base-2 top-reading ramp (ignored for ``gapped``).

    Returns
    -------
    BuiltSpec
        An ``mlp`` spec with one hidden ReLU layer; ``D = 22`` (gapped) or 25
        (base 2), readout ``accept - 1/2``.

    Examples
    --------
    >>> built = cvp_stack_spec()
    >>> built.table["state_dim"], built.table["alphabet"]
    (22, ['0', '1', '#'])
    """
    if encoding not in STACK_ENCODINGS:
        raise ProblemError(
            f"unknown encoding {encoding!r}; use one of {STACK_ENCODINGS}"
        )
    width = Fraction(ramp_width)
    if not 0 < width < 1:
        raise ProblemError(f"ramp_width {width} must lie in (0, 1)")
    builder = _StackRnnBuilder(encoding, width).build()
    name = STACK_SPEC_NAME if encoding == "gapped" else f"{STACK_SPEC_NAME}-base2"
    description = (
        "ReLU stack RNN (one hidden layer) running the 3-stack monotone CVP machine "
        "on program bits then # padding, stacks in the gapped base-4 encoding"
    )
    if encoding == "base2":
        description = (
            f"ablation of {STACK_SPEC_NAME}: base-2 stacks read by a ramp of width "
            f"{width} (wrong on deep stacks)"
        )
    table = builder.spec(
        name=name,
        description=description,
        initial={Phase.READ.value: 1},
        readout={Phase.ACCEPT.value: 1},
        readout_bias=Fraction(-1, 2),
    )
    return BuiltSpec(table, builder.state_names, tuple(builder.labels))


@dataclass(frozen=True)
class StackRnnState:
    """A stack RNN state read as a machine configuration.

    Attributes
    ----------
    control : StackControl
        Phase and registers.
    stacks : tuple[list[int], list[int], list[int]]
        Program, values and temp stacks as Python lists (top last).
    """

    control: StackControl
    stacks: tuple[list[int], list[int], list[int]]


def decode_stack_state(state: Sequence) -> StackRnnState:
    """Read a gapped stack RNN state as a machine configuration.

    Raises
    ------
    ProblemError
        If the phase is not one-hot, a register or cached bit is not 0/1, a stack
        value is not a gapped encoding, or a cached bit disagrees with its stack.
    """
    names = stack_state_names("gapped")
    values = dict(zip(names, state, strict=True))
    active = [p for p in PHASES if values[p] != 0]
    if len(active) != 1 or values[active[0]] != 1:
        raise ProblemError(
            f"phase part {[str(values[p]) for p in PHASES]} is not one-hot"
        )
    for name in ("op_reg", "value_reg") + tuple(
        f"{k}_{_SHORT[s]}" for s in STACK_NAMES for k in ("ne", "t")
    ):
        if values[name] not in (0, 1):
            raise ProblemError(f"bit {name} = {values[name]} is not 0 or 1")
    stacks = []
    for stack in STACK_NAMES:
        short = _SHORT[stack]
        content = gapped_decode(Fraction(str(values[f"s_{short}"])))
        top = content[-1] if content else 0
        if values[f"ne_{short}"] != bool(content) or values[f"t_{short}"] != top:
            raise ProblemError(
                f"{stack} stack {content} has cached bits ne = "
                f"{values[f'ne_{short}']}, t = {values[f't_{short}']}"
            )
        stacks.append(content)
    control = StackControl(
        Phase(active[0]), int(values["op_reg"]), int(values["value_reg"])
    )
    return StackRnnState(control, tuple(stacks))


def encode_stack_state(
    control: StackControl, stacks: Sequence[Sequence[int]]
) -> list[Fraction]:
    """Return the gapped stack RNN state of a machine configuration.

    ``stacks`` lists the program, values and temp stacks as Python lists (top
    last).
    """
    from circuitlab.problems.stack_machine import gapped_encode

    state = {name: Fraction(0) for name in stack_state_names("gapped")}
    state[control.phase.value] = Fraction(1)
    state["op_reg"] = Fraction(control.op)
    state["value_reg"] = Fraction(control.value)
    for stack, content in zip(STACK_NAMES, stacks, strict=True):
        short = _SHORT[stack]
        state[f"s_{short}"] = gapped_encode(content)
        state[f"ne_{short}"] = Fraction(1 if content else 0)
        state[f"t_{short}"] = Fraction(content[-1] if content else 0)
    return list(state.values())
