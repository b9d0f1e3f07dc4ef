"""Circuit value problem: boolean circuits, ISCAS .bench files, streams for machines.

A :class:`BooleanCircuit` has named inputs, gates ``AND`` and ``OR`` of fan-in 2
and ``NOT`` of fan-in 1, and named outputs. It is monotone when it has no ``NOT``.
Evaluating a monotone circuit on given inputs is P-complete (the monotone circuit
value problem), which :mod:`circuitlab.problems.stack_machine` decides with a
multi-stack machine.

.bench files
------------
The ISCAS-85 text format, one statement per line, ``#`` starting a comment::

    INPUT(a)
    INPUT(b)
    OUTPUT(z)
    z = NAND(a, b)

Gate types (case-insensitive) are lowered to fan-in-2 ``AND``/``OR`` and ``NOT``:

- ``AND``/``OR`` with ``k > 2`` operands become a balanced tree of ``k - 1``
  binary gates (depth ``ceil(log2 k)``), and with one operand a buffer.
- ``NAND``/``NOR``/``XNOR`` are the ``AND``/``OR``/``XOR`` tree followed by ``NOT``.
- ``XOR(a, b)`` becomes ``OR(AND(a, NOT b), AND(NOT a, b))``, and n-ary ``XOR`` a
  balanced tree of those.
- ``BUF``/``BUFF``/one-operand ``AND`` become ``AND(a, a)``, one-operand ``OR``
  becomes ``OR(a, a)``.

The root of a lowered gate keeps the signal's name. Helper gates are named
``<signal>_<k>`` with the smallest ``k >= 1`` that clashes with no other name.
``DFF`` (sequential) lines are rejected. The writer emits only ``AND``, ``OR``
and ``NOT``, so a round trip keeps the lowered circuit.

Machine stream
--------------
:func:`circuit_to_cvp_program` lists the circuit as a straight-line program over
a value stack: one constant per input, then the gates of the output's cone in
topological order. Each gate names its operands by their offset back from the
newest value, so offset 1 is the value just computed. :func:`cvp_program_bits`
writes the program over ``{0, 1}``, one prefix-free code per instruction::

    constant b          ->  0 b
    gate op, d1, d2     ->  1 op 1^(d1-1) 0 1^(d2-1) 0     (op: 0 = AND, 1 = OR)

The last value computed is the output. :func:`encode_cvp_stream` appends
``cvp_padding_length(n) = 3 n + 2`` padding tokens ``#`` to the ``n`` program
bits, one per step of the stack machine.
"""

from __future__ import annotations

import heapq
import logging
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from os import PathLike
from pathlib import Path
from types import MappingProxyType
from typing import NamedTuple

import numpy as np

from circuitlab.errors import FormatError, ProblemError

logger = logging.getLogger(__name__)

__all__ = [
    "GATE_OPS",
    "CVP_STREAM_ALPHABET",
    "Gate",
    "BooleanCircuit",
    "DoubleRailCircuit",
    "ConstantInstruction",
    "GateInstruction",
    "CvpProgram",
    "evaluate_circuit",
    "parse_bench",
    "read_bench",
    "format_bench",
    "write_bench",
    "random_circuit",
    "to_monotone",
    "circuit_to_cvp_program",
    "evaluate_cvp_program",
    "cvp_program_bits",
    "parse_cvp_bits",
    "cvp_padding_length",
    "encode_cvp_stream",
    "decode_cvp_stream",
]

GATE_OPS: tuple[str, ...] = ("AND", "OR", "NOT")
"""Gate types of a :class:`BooleanCircuit`."""

CVP_STREAM_ALPHABET: tuple[str, ...] = ("0", "1", "#")
"""Tokens of a CVP stream: program bits and the padding symbol."""

_ARITY = {"AND": 2, "OR": 2, "NOT": 1}
_NAME = re.compile(r"[^\s(),=#]+")


# ---------------------------------------------------------------------------
# Circuits
# ---------------------------------------------------------------------------


class Gate(NamedTuple):
    """Gate ``op(operands)`` with ``op`` in :data:`GATE_OPS`."""

    op: str
    operands: tuple[str, ...]


class _CycleFound(Exception):
    def __init__(self, cycle: list[str]) -> None:
        super().__init__(" -> ".join(cycle))
        self.cycle = cycle


def _topological_order(
    gate_names: Sequence[str], operands_of: Mapping[str, Sequence[str]]
) -> list[str]:
    """Sort gates so operands come first; ties keep the given order (Kahn).

    Raises
    ------
    _CycleFound
        With the gates of one cycle in signal-flow order, first gate repeated.
    """
    position = {name: i for i, name in enumerate(gate_names)}
    pending = dict.fromkeys(gate_names, 0)
    users: dict[str, list[str]] = defaultdict(list)
    for name in gate_names:
        for operand in set(operands_of[name]):
            if operand in position:
                pending[name] += 1
                users[operand].append(name)
    ready = [position[name] for name in gate_names if pending[name] == 0]
    heapq.heapify(ready)
    order = []
    while ready:
        name = gate_names[heapq.heappop(ready)]
        order.append(name)
        for user in users[name]:
            pending[user] -= 1
            if pending[user] == 0:
                heapq.heappush(ready, position[user])
    if len(order) == len(gate_names):
        return order

    # Every gate left over has an operand that is left over too, so walking from
    # operand to operand must revisit a gate, and the revisited gate is on a cycle.
    left_over = set(gate_names) - set(order)
    name = min(left_over, key=position.__getitem__)
    visited: dict[str, int] = {}
    path: list[str] = []
    while name not in visited:
        visited[name] = len(path)
        path.append(name)
        name = next(op for op in operands_of[name] if op in left_over)
    cycle = path[visited[name] :][::-1]
    raise _CycleFound([*cycle, cycle[0]])


class BooleanCircuit:
    """Combinational circuit of fan-in-2 ``AND``/``OR`` and ``NOT`` gates.

    Parameters
    ----------
    inputs : Sequence[str]
        Input names, in the order used by sequence assignments.
    gates : Mapping[str, Gate or tuple[str, Sequence[str]]]
        Gate definitions in any order; they are stored in topological order.
    outputs : Sequence[str]
        Output signals (inputs or gates), at least one.

    Raises
    ------
    ProblemError
        On a duplicate or malformed name, an unknown gate type, a wrong number of
        operands, an undefined operand or output, or a cycle. The message names
        the gate.

    Examples
    --------
    >>> c = BooleanCircuit(["a", "b"], {"z": ("AND", ["a", "b"])}, ["z"])
    >>> c.evaluate([1, 1]), c.is_monotone
    ({'z': True}, True)
    """

    def __init__(
        self,
        inputs: Sequence[str],
        gates: Mapping[str, Gate | tuple[str, Sequence[str]]],
        outputs: Sequence[str],
    ) -> None:
        self._inputs = tuple(inputs)
        seen: set[str] = set()
        for name in self._inputs:
            self._check_name(name, "input")
            if name in seen:
                raise ProblemError(f"input {name!r} is listed twice; keep one")
            seen.add(name)

        normalised: dict[str, Gate] = {}
        for name, definition in gates.items():
            self._check_name(name, "gate")
            if name in seen:
                raise ProblemError(f"gate {name!r} reuses the name of an input")
            seen.add(name)
            op, operands = definition
            op = str(op).upper()
            operands = tuple(operands)
            if op not in _ARITY:
                raise ProblemError(
                    f"gate {name!r} has unknown type {op!r}; use one of {GATE_OPS}"
                )
            if len(operands) != _ARITY[op]:
                raise ProblemError(
                    f"gate {name!r}: {op} takes {_ARITY[op]} operand(s), "
                    f"got {len(operands)}"
                )
            normalised[name] = Gate(op, operands)
        for name, gate in normalised.items():
            for operand in gate.operands:
                if operand not in seen:
                    raise ProblemError(
                        f"gate {name!r} uses undefined signal {operand!r}; define it "
                        f"as an input or a gate"
                    )

        self._outputs = tuple(outputs)
        if not self._outputs:
            raise ProblemError("circuit has no outputs; name at least one signal")
        for name in self._outputs:
            if name not in seen:
                raise ProblemError(f"output {name!r} is not an input or a gate")

        operands_of = {name: gate.operands for name, gate in normalised.items()}
        try:
            order = _topological_order(list(normalised), operands_of)
        except _CycleFound as cycle:
            raise ProblemError(
                f"gates form a cycle {cycle}; a combinational circuit must be acyclic"
            ) from None
        self._gates = MappingProxyType({name: normalised[name] for name in order})

    @staticmethod
    def _check_name(name: str, kind: str) -> None:
        if not isinstance(name, str) or not _NAME.fullmatch(name):
            raise ProblemError(
                f"{kind} name {name!r} is invalid: use a non-empty string without "
                f"whitespace, parentheses, commas, '=' or '#'"
            )

    @property
    def inputs(self) -> tuple[str, ...]:
        """Input names in order."""
        return self._inputs

    @property
    def gates(self) -> Mapping[str, Gate]:
        """Gate definitions in topological order (operands before users)."""
        return self._gates

    @property
    def outputs(self) -> tuple[str, ...]:
        """Output names in order."""
        return self._outputs

    @property
    def is_monotone(self) -> bool:
        """Whether the circuit has no ``NOT`` gate."""
        return all(gate.op != "NOT" for gate in self._gates.values())

    @property
    def depth(self) -> int:
        """Number of gates on a longest input-to-output path (0 without gates)."""
        level = dict.fromkeys(self._inputs, 0)
        for name, gate in self._gates.items():
            level[name] = 1 + max(level[operand] for operand in gate.operands)
        return max(level[name] for name in self._outputs)

    def evaluate(
        self, assignment: Mapping[str, bool | int] | Sequence[bool | int]
    ) -> dict[str, bool]:
        """Return the output values; see :func:`evaluate_circuit`."""
        values = evaluate_circuit(self, assignment)
        return {name: values[name] for name in self._outputs}

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, BooleanCircuit):
            return NotImplemented
        return (
            self._inputs == other._inputs
            and dict(self._gates) == dict(other._gates)
            and self._outputs == other._outputs
        )

    def __hash__(self) -> int:
        return hash((self._inputs, tuple(self._gates.items()), self._outputs))

    def __repr__(self) -> str:
        return (
            f"BooleanCircuit({len(self._inputs)} inputs, {len(self._gates)} gates, "
            f"outputs={list(self._outputs)})"
        )


def _input_values(
    inputs: Sequence[str],
    assignment: Mapping[str, bool | int] | Sequence[bool | int],
) -> dict[str, bool]:
    if isinstance(assignment, Mapping):
        unknown = sorted(set(assignment) - set(inputs))
        if unknown:
            raise ProblemError(f"assignment names unknown inputs {unknown}")
        missing = [name for name in inputs if name not in assignment]
        if missing:
            raise ProblemError(f"assignment misses inputs {missing}")
        raw = [assignment[name] for name in inputs]
    else:
        raw = list(assignment)
        if len(raw) != len(inputs):
            raise ProblemError(
                f"assignment has {len(raw)} values for {len(inputs)} inputs"
            )
    values = {}
    for name, value in zip(inputs, raw, strict=True):
        if value not in (0, 1):  # True and False compare equal to 1 and 0
            raise ProblemError(f"input {name!r} has value {value!r}; use 0/1 or bool")
        values[name] = bool(value)
    return values


def evaluate_circuit(
    circuit: BooleanCircuit,
    assignment: Mapping[str, bool | int] | Sequence[bool | int],
) -> dict[str, bool]:
    """Evaluate every signal in one pass over the topological order.

    Parameters
    ----------
    circuit : BooleanCircuit
        The circuit.
    assignment : Mapping[str, bool or int] or Sequence[bool or int]
        Input values as 0/1 or bool, by name or in input order.

    Returns
    -------
    dict[str, bool]
        The value of every input and gate.

    Raises
    ------
    ProblemError
        If the assignment misses an input, names an unknown one, or has a value
        other than 0/1.
    """
    values = _input_values(circuit.inputs, assignment)
    for name, (op, operands) in circuit.gates.items():
        if op == "AND":
            values[name] = values[operands[0]] and values[operands[1]]
        elif op == "OR":
            values[name] = values[operands[0]] or values[operands[1]]
        else:
            values[name] = not values[operands[0]]
    return values


# ---------------------------------------------------------------------------
# .bench reader and writer
# ---------------------------------------------------------------------------

_IO_LINE = re.compile(r"(INPUT|OUTPUT)\s*\(\s*([^\s(),=#]+)\s*\)", re.IGNORECASE)
_GATE_LINE = re.compile(r"([^\s(),=#]+)\s*=\s*([A-Za-z_]\w*)\s*\((.*)\)")
_BENCH_ARITY = {
    "AND": None,
    "OR": None,
    "NAND": None,
    "NOR": None,
    "XOR": None,
    "XNOR": None,
    "NOT": 1,
    "BUF": 1,
    "BUFF": 1,
}


@dataclass
class _BenchStatement:
    kind: str
    operands: tuple[str, ...]
    line: int


class _Lowering:
    """Builder of fan-in-2 gates with fresh helper names."""

    def __init__(self, used_names: set[str]) -> None:
        self.used_names = set(used_names)
        self.gates: dict[str, Gate] = {}

    def fresh(self, base: str) -> str:
        """Return ``base`` if it is free, else ``base_k`` with the smallest free k."""
        name = base
        k = 0
        while name in self.used_names:
            k += 1
            name = f"{base}_{k}"
        self.used_names.add(name)
        return name

    def tree(self, op: str, operands: Sequence[str], name: str) -> None:
        """Define ``name`` as the balanced ``op`` tree over ``operands``."""
        level = list(operands)
        if len(level) == 1:
            self.gates[name] = Gate(op, (level[0], level[0]))
            return
        while len(level) > 2:
            paired = []
            for i in range(0, len(level) - 1, 2):
                helper = self.fresh(name)
                self.gates[helper] = Gate(op, (level[i], level[i + 1]))
                paired.append(helper)
            if len(level) % 2:
                paired.append(level[-1])
            level = paired
        self.gates[name] = Gate(op, (level[0], level[1]))

    def xor2(self, first: str, second: str, name: str) -> None:
        not_first, not_second = self.fresh(name), self.fresh(name)
        left, right = self.fresh(name), self.fresh(name)
        self.gates[not_first] = Gate("NOT", (first,))
        self.gates[not_second] = Gate("NOT", (second,))
        self.gates[left] = Gate("AND", (first, not_second))
        self.gates[right] = Gate("AND", (not_first, second))
        self.gates[name] = Gate("OR", (left, right))

    def xor_tree(self, operands: Sequence[str], name: str) -> None:
        level = list(operands)
        if len(level) == 1:
            self.gates[name] = Gate("AND", (level[0], level[0]))
            return
        while len(level) > 2:
            paired = []
            for i in range(0, len(level) - 1, 2):
                helper = self.fresh(name)
                self.xor2(level[i], level[i + 1], helper)
                paired.append(helper)
            if len(level) % 2:
                paired.append(level[-1])
            level = paired
        self.xor2(level[0], level[1], name)

    def lower(self, name: str, kind: str, operands: Sequence[str]) -> None:
        if kind in ("AND", "OR"):
            self.tree(kind, operands, name)
        elif kind in ("NAND", "NOR"):
            inner = self.fresh(name)
            self.tree(kind[1:], operands, inner)
            self.gates[name] = Gate("NOT", (inner,))
        elif kind == "XOR":
            self.xor_tree(operands, name)
        elif kind == "XNOR":
            inner = self.fresh(name)
            self.xor_tree(operands, inner)
            self.gates[name] = Gate("NOT", (inner,))
        elif kind == "NOT":
            self.gates[name] = Gate("NOT", (operands[0],))
        else:  # BUF, BUFF
            self.gates[name] = Gate("AND", (operands[0], operands[0]))


def parse_bench(text: str, *, name: str = "<string>") -> BooleanCircuit:
    """Parse an ISCAS .bench circuit and lower it to fan-in-2 AND/OR/NOT gates.

    Parameters
    ----------
    text : str
        File contents (format and lowering rules in the module docstring).
    name : str
        File name used in error messages.

    Raises
    ------
    FormatError
        On a syntax error, an unknown or sequential gate type, a wrong number of
        operands, a redefined or undefined signal, a missing OUTPUT, or a cycle.
        The message starts with ``file:line``.

    Examples
    --------
    >>> c = parse_bench("INPUT(a)\\nINPUT(b)\\nOUTPUT(z)\\nz = NAND(a, b)\\n")
    >>> c.evaluate([1, 1])
    {'z': False}
    """
    inputs: dict[str, int] = {}
    outputs: list[tuple[str, int]] = []
    statements: dict[str, _BenchStatement] = {}

    for line_number, raw_line in enumerate(text.splitlines(), start=1):
        line = raw_line.split("#", 1)[0].strip()
        if not line:
            continue
        where = f"{name}:{line_number}"
        io_match = _IO_LINE.fullmatch(line)
        if io_match:
            keyword, signal = io_match.group(1).upper(), io_match.group(2)
            if keyword == "OUTPUT":
                outputs.append((signal, line_number))
                continue
            _check_not_defined(signal, inputs, statements, where)
            inputs[signal] = line_number
            continue
        gate_match = _GATE_LINE.fullmatch(line)
        if not gate_match:
            raise FormatError(
                f"{where}: syntax error in {line!r}; expected INPUT(x), OUTPUT(x) "
                f"or 'x = TYPE(a, b, ...)'"
            )
        signal, kind, argument_text = gate_match.groups()
        kind = kind.upper()
        if kind == "DFF":
            raise FormatError(
                f"{where}: DFF is a sequential element; only combinational "
                f"circuits are supported"
            )
        if kind not in _BENCH_ARITY:
            raise FormatError(
                f"{where}: unknown gate type {kind!r}; supported types are "
                f"{', '.join(_BENCH_ARITY)}"
            )
        operands = tuple(part.strip() for part in argument_text.split(","))
        if operands == ("",):
            raise FormatError(f"{where}: gate {signal!r} has no operands")
        for operand in operands:
            if not _NAME.fullmatch(operand):
                raise FormatError(
                    f"{where}: invalid operand {operand!r} of gate {signal!r}"
                )
        arity = _BENCH_ARITY[kind]
        if arity is not None and len(operands) != arity:
            raise FormatError(
                f"{where}: {kind} takes {arity} operand(s), got {len(operands)}"
            )
        _check_not_defined(signal, inputs, statements, where)
        statements[signal] = _BenchStatement(kind, operands, line_number)

    for signal, statement in statements.items():
        for operand in statement.operands:
            if operand not in inputs and operand not in statements:
                raise FormatError(
                    f"{name}:{statement.line}: gate {signal!r} uses undefined signal "
                    f"{operand!r}; add INPUT({operand}) or define it"
                )
    if not outputs:
        raise FormatError(f"{name}: no OUTPUT line; a circuit needs an output")
    seen_outputs: dict[str, int] = {}
    for signal, line_number in outputs:
        if signal not in inputs and signal not in statements:
            raise FormatError(
                f"{name}:{line_number}: OUTPUT({signal}) names an undefined signal"
            )
        if signal in seen_outputs:
            raise FormatError(
                f"{name}:{line_number}: OUTPUT({signal}) repeats line "
                f"{seen_outputs[signal]}; keep one"
            )
        seen_outputs[signal] = line_number

    operands_of = {signal: st.operands for signal, st in statements.items()}
    try:
        _topological_order(list(statements), operands_of)
    except _CycleFound as cycle:
        first = cycle.cycle[0]
        raise FormatError(
            f"{name}:{statements[first].line}: signal {first!r} is on the cycle "
            f"{cycle}; a combinational circuit must be acyclic"
        ) from None

    lowering = _Lowering(set(inputs) | set(statements))
    for signal, statement in statements.items():
        lowering.lower(signal, statement.kind, statement.operands)
    return BooleanCircuit(list(inputs), lowering.gates, [s for s, _ in outputs])


def _check_not_defined(
    signal: str,
    inputs: Mapping[str, int],
    statements: Mapping[str, _BenchStatement],
    where: str,
) -> None:
    if signal in inputs:
        raise FormatError(
            f"{where}: signal {signal!r} is redefined (INPUT on line {inputs[signal]})"
        )
    if signal in statements:
        raise FormatError(
            f"{where}: signal {signal!r} is redefined (gate on line "
            f"{statements[signal].line})"
        )


def read_bench(path: str | PathLike[str]) -> BooleanCircuit:
    """Read an ISCAS .bench file; see :func:`parse_bench`."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise FormatError(f"{path}: cannot read .bench file: {error}") from error
    return parse_bench(text, name=str(path))


def format_bench(circuit: BooleanCircuit) -> str:
    """Return the .bench text of a circuit, gates in topological order."""
    lines = [
        f"# {len(circuit.inputs)} inputs, {len(circuit.outputs)} outputs, "
        f"{len(circuit.gates)} gates (AND/OR fan-in 2, NOT)"
    ]
    lines.extend(f"INPUT({name})" for name in circuit.inputs)
    lines.extend(f"OUTPUT({name})" for name in circuit.outputs)
    for name, (op, operands) in circuit.gates.items():
        lines.append(f"{name} = {op}({', '.join(operands)})")
    return "\n".join(lines) + "\n"


def write_bench(circuit: BooleanCircuit, path: str | PathLike[str]) -> None:
    """Write a circuit as an ISCAS .bench file."""
    Path(path).write_text(format_bench(circuit), encoding="utf-8")


# ---------------------------------------------------------------------------
# Generator
# ---------------------------------------------------------------------------


def random_circuit(
    num_inputs: int,
    num_gates: int,
    rng: np.random.Generator | int | None = None,
    *,
    monotone: bool = True,
    num_outputs: int = 1,
    not_probability: float = 0.2,
) -> BooleanCircuit:
    """Draw a random circuit; every operand is uniform over the earlier signals.

    Inputs are named ``x0, x1, ...`` and gates ``g0, g1, ...``. The outputs are
    the last ``num_outputs`` gates.

    Parameters
    ----------
    num_inputs, num_gates : int
        At least 1 each.
    rng : numpy.random.Generator or int or None
        Generator or seed.
    monotone : bool
        If True, gates are ``AND``/``OR`` with equal probability. Otherwise a gate
        is ``NOT`` with probability ``not_probability``.
    num_outputs : int
        Between 1 and ``num_gates``.

    Examples
    --------
    >>> random_circuit(3, 5, 0).is_monotone
    True
    """
    if num_inputs < 1 or num_gates < 1:
        raise ProblemError(
            f"random_circuit needs at least 1 input and 1 gate, got {num_inputs} "
            f"inputs and {num_gates} gates"
        )
    if not 1 <= num_outputs <= num_gates:
        raise ProblemError(f"num_outputs {num_outputs} is not in 1..{num_gates}")
    generator = (
        rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    )
    signals = [f"x{i}" for i in range(num_inputs)]
    gates: dict[str, Gate] = {}
    for i in range(num_gates):
        name = f"g{i}"
        if not monotone and generator.random() < not_probability:
            gates[name] = Gate("NOT", (signals[int(generator.integers(len(signals)))],))
        else:
            op = "AND" if generator.integers(2) == 0 else "OR"
            first, second = generator.integers(len(signals), size=2)
            gates[name] = Gate(op, (signals[int(first)], signals[int(second)]))
        signals.append(name)
    outputs = [f"g{i}" for i in range(num_gates - num_outputs, num_gates)]
    return BooleanCircuit(signals[:num_inputs], gates, outputs)


# ---------------------------------------------------------------------------
# Double-rail conversion
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class DoubleRailCircuit:
    """Monotone circuit computing a general one, with a negated copy of each input.

    Attributes
    ----------
    circuit : BooleanCircuit
        Monotone circuit with the original outputs. Its inputs are the original
        inputs followed by one negated input per original input.
    negated_inputs : Mapping[str, str]
        Original input name to the name of the input that carries its negation.
    """

    circuit: BooleanCircuit
    negated_inputs: Mapping[str, str]

    def expand_assignment(
        self, assignment: Mapping[str, bool | int] | Sequence[bool | int]
    ) -> dict[str, bool]:
        """Extend an assignment of the original inputs to the monotone circuit."""
        values = _input_values(list(self.negated_inputs), assignment)
        expanded = dict(values)
        for name, negated in self.negated_inputs.items():
            expanded[negated] = not values[name]
        return expanded


def to_monotone(circuit: BooleanCircuit) -> DoubleRailCircuit:
    """Convert a circuit to a monotone one by double-rail logic (De Morgan).

    Every signal ``x`` may get a positive rail computing ``x`` and a negative rail
    computing ``not x``. ``AND`` on the negative rail is ``OR`` of the negative
    operand rails and vice versa, ``NOT`` swaps the rails without a gate, and an
    input's negative rail is a new input. Only the rails that an output needs are
    built, so the result has at most twice as many ``AND``/``OR`` gates as the
    original, plus one buffer ``AND(r, r)`` per output that is a ``NOT`` (its
    value lives on another signal's rail).

    Examples
    --------
    >>> c = BooleanCircuit(["a"], {"z": ("NOT", ["a"])}, ["z"])
    >>> rails = to_monotone(c)
    >>> rails.circuit.evaluate(rails.expand_assignment([0]))
    {'z': True}
    """
    lowering = _Lowering(set(circuit.inputs) | set(circuit.gates))
    negated_inputs = {name: lowering.fresh(f"{name}_not") for name in circuit.inputs}

    # Backward pass: which rails (signal, polarity) does some output need?
    needed = {(name, True) for name in circuit.outputs}
    for name in reversed(circuit.gates):
        op, operands = circuit.gates[name]
        for polarity in (True, False):
            if (name, polarity) not in needed:
                continue
            operand_polarity = (not polarity) if op == "NOT" else polarity
            needed.update((operand, operand_polarity) for operand in operands)

    # Forward pass: name the rail of each needed (signal, polarity) and build it.
    rail = {(name, True): name for name in circuit.inputs}
    rail.update({(name, False): negated_inputs[name] for name in circuit.inputs})
    gates: dict[str, Gate] = {}
    for name, (op, operands) in circuit.gates.items():
        for polarity in (True, False):
            if (name, polarity) not in needed:
                continue
            if op == "NOT":
                rail[name, polarity] = rail[operands[0], not polarity]
                continue
            if polarity:
                rail_name, rail_op = name, op
            else:
                rail_name = lowering.fresh(f"{name}_not")
                rail_op = "OR" if op == "AND" else "AND"
            rail_operands = tuple(rail[operand, polarity] for operand in operands)
            gates[rail_name] = Gate(rail_op, rail_operands)
            rail[name, polarity] = rail_name
    for name in circuit.outputs:
        source = rail[name, True]
        if source != name:
            gates[name] = Gate("AND", (source, source))

    inputs = [*circuit.inputs, *negated_inputs.values()]
    monotone = BooleanCircuit(inputs, gates, circuit.outputs)
    return DoubleRailCircuit(monotone, MappingProxyType(negated_inputs))


# ---------------------------------------------------------------------------
# Straight-line programs and machine streams
# ---------------------------------------------------------------------------


class ConstantInstruction(NamedTuple):
    """Push a constant input bit onto the value stack."""

    value: bool


class GateInstruction(NamedTuple):
    """Push ``op`` of the values at ``first`` and ``second`` places below the top.

    Offsets count from 1, the newest value.
    """

    op: str
    first: int
    second: int


@dataclass(frozen=True)
class CvpProgram:
    """Straight-line program of a monotone circuit with constant inputs.

    The value of the program is the last value it computes.
    """

    instructions: tuple[ConstantInstruction | GateInstruction, ...]

    def __post_init__(self) -> None:
        if not self.instructions:
            raise ProblemError("a CVP program needs at least one instruction")
        count = 0
        for index, instruction in enumerate(self.instructions):
            if isinstance(instruction, GateInstruction):
                if instruction.op not in ("AND", "OR"):
                    raise ProblemError(
                        f"instruction {index}: gate type {instruction.op!r} is not "
                        f"AND or OR; convert with to_monotone() first"
                    )
                for offset in (instruction.first, instruction.second):
                    if not 1 <= offset <= count:
                        raise ProblemError(
                            f"instruction {index}: operand offset {offset} is not in "
                            f"1..{count} (values computed so far)"
                        )
            count += 1


def circuit_to_cvp_program(
    circuit: BooleanCircuit,
    assignment: Mapping[str, bool | int] | Sequence[bool | int],
    output: str | None = None,
) -> CvpProgram:
    """List a monotone circuit and its inputs as a straight-line program.

    The program pushes every input in order, then the gates of the output's cone
    in topological order, so its last value is the output. An output that is an
    input gets a final buffer ``AND(x, x)``.

    Raises
    ------
    ProblemError
        If the circuit has a ``NOT`` gate, the output is ambiguous or unknown, or
        the assignment is invalid.
    """
    if not circuit.is_monotone:
        raise ProblemError(
            "the circuit has NOT gates; convert it with to_monotone() first"
        )
    if output is None:
        if len(circuit.outputs) != 1:
            raise ProblemError(
                f"the circuit has outputs {list(circuit.outputs)}; pass output=NAME"
            )
        output = circuit.outputs[0]
    if output not in circuit.inputs and output not in circuit.gates:
        raise ProblemError(f"output {output!r} is not a signal of the circuit")
    values = _input_values(circuit.inputs, assignment)

    cone = {output}
    for name in reversed(circuit.gates):
        if name in cone:
            cone.update(circuit.gates[name].operands)
    instructions: list[ConstantInstruction | GateInstruction] = []
    place: dict[str, int] = {}
    for name in circuit.inputs:
        place[name] = len(instructions)
        instructions.append(ConstantInstruction(values[name]))
    for name, (op, operands) in circuit.gates.items():
        if name not in cone:
            continue
        index = len(instructions)
        first, second = (index - place[operand] for operand in operands)
        place[name] = index
        instructions.append(GateInstruction(op, first, second))
    if output in circuit.inputs:
        offset = len(instructions) - place[output]
        instructions.append(GateInstruction("AND", offset, offset))
    return CvpProgram(tuple(instructions))


def evaluate_cvp_program(program: CvpProgram) -> bool:
    """Run a program directly on a Python list and return its last value."""
    values: list[bool] = []
    for instruction in program.instructions:
        if isinstance(instruction, ConstantInstruction):
            values.append(bool(instruction.value))
        elif instruction.op == "AND":
            values.append(values[-instruction.first] and values[-instruction.second])
        else:
            values.append(values[-instruction.first] or values[-instruction.second])
    return values[-1]


def cvp_program_bits(program: CvpProgram) -> str:
    """Write a program with the prefix-free bit code of the module docstring.

    Examples
    --------
    >>> program = CvpProgram(
    ...     (ConstantInstruction(True), ConstantInstruction(False),
    ...      GateInstruction("OR", 1, 2)))
    >>> cvp_program_bits(program)
    '010011010'
    """
    parts = []
    for instruction in program.instructions:
        if isinstance(instruction, ConstantInstruction):
            parts.append("01" if instruction.value else "00")
        else:
            parts.append("1" + ("1" if instruction.op == "OR" else "0"))
            parts.append("1" * (instruction.first - 1) + "0")
            parts.append("1" * (instruction.second - 1) + "0")
    return "".join(parts)


def parse_cvp_bits(bits: Iterable[str]) -> CvpProgram:
    """Parse the bit code of :func:`cvp_program_bits` back into a program.

    Raises
    ------
    ProblemError
        If a token is not ``0``/``1``, the code ends inside an instruction, or an
        offset points below the first value. The message gives the 0-based
        token position.
    """
    text = "".join(bits)
    for position, token in enumerate(text):
        if token not in ("0", "1"):
            raise ProblemError(f"token {position}: {token!r} is not a program bit")
    instructions: list[ConstantInstruction | GateInstruction] = []
    position = 0

    def take(field: str) -> str:
        nonlocal position
        if position >= len(text):
            raise ProblemError(f"token {position}: program ended inside {field}")
        position += 1
        return text[position - 1]

    while position < len(text):
        start = position
        if take("an instruction") == "0":
            instructions.append(ConstantInstruction(take("a constant") == "1"))
            continue
        op = "OR" if take("a gate type") == "1" else "AND"
        offsets = []
        for ordinal in ("first", "second"):
            offset = 1
            while take(f"the {ordinal} operand offset") == "1":
                offset += 1
            if offset > len(instructions):
                raise ProblemError(
                    f"token {start}: {ordinal} operand offset {offset} of instruction "
                    f"{len(instructions)} exceeds the {len(instructions)} values "
                    f"computed before it"
                )
            offsets.append(offset)
        instructions.append(GateInstruction(op, offsets[0], offsets[1]))
    if not instructions:
        raise ProblemError("token 0: the program is empty")
    return CvpProgram(tuple(instructions))


def cvp_padding_length(num_program_bits: int) -> int:
    """Return the padding ``3 n + 2`` that the stack machine needs for ``n`` bits.

    The machine spends ``n + 1`` steps reversing the program onto its program
    stack, ``2 b - 2`` steps on each instruction of ``b`` bits, and one step to
    halt: ``3 n + 2 - 2 I`` steps for ``I`` instructions, at most ``3 n + 2``.
    """
    return 3 * num_program_bits + 2


def encode_cvp_stream(
    circuit: BooleanCircuit,
    assignment: Mapping[str, bool | int] | Sequence[bool | int],
    output: str | None = None,
    *,
    padding: int | None = None,
) -> str:
    """Encode a monotone CVP instance as program bits followed by ``#`` padding.

    Parameters
    ----------
    padding : int, optional
        Number of ``#`` tokens. Defaults to :func:`cvp_padding_length` of the
        program length, which is enough for the stack machine to halt.

    Examples
    --------
    >>> c = BooleanCircuit(["a", "b"], {"z": ("OR", ["a", "b"])}, ["z"])
    >>> stream = encode_cvp_stream(c, [1, 0])
    >>> stream[:9], stream.count("#")
    ('010011100', 29)
    """
    bits = cvp_program_bits(circuit_to_cvp_program(circuit, assignment, output))
    count = cvp_padding_length(len(bits)) if padding is None else padding
    if count < 0:
        raise ProblemError(f"padding {count} is negative")
    return bits + "#" * count


def decode_cvp_stream(tokens: Iterable[str]) -> tuple[CvpProgram, int]:
    """Split a CVP stream into its program and its number of padding tokens.

    Raises
    ------
    ProblemError
        If the program bits are malformed or a bit follows a ``#``; the message
        gives the token position.
    """
    stream = "".join(tokens)
    split = stream.find("#")
    if split < 0:
        split = len(stream)
    for position in range(split, len(stream)):
        if stream[position] != "#":
            raise ProblemError(
                f"token {position}: {stream[position]!r} follows the padding; "
                f"all program bits must come before the first '#'"
            )
    return parse_cvp_bits(stream[:split]), len(stream) - split
