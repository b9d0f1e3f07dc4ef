"""Monotone circuit value in ReLU gates: a boolean circuit as an arithmetic circuit.

On 0/1 values, ``AND(a, b) = ReLU(a + b - 1)`` and ``OR(a, b) = a + b - AND(a, b)``.
:func:`relu_circuit` turns a monotone :class:`~circuitlab.problems.circuit_value.
BooleanCircuit` into a circuitlab :class:`~circuitlab.circuit.ir.Circuit` with these
gadgets, one vectorized batch per level of the boolean circuit, so a boolean circuit
of depth ``L`` becomes an arithmetic circuit with nonlinear depth ``L`` (one ReLU per
boolean gate on any path) and depth at most ``4 L``.

The input group is ``x`` (one value per circuit input, in input order) and the
output group ``y`` (one value per circuit output, in output order). Every value of
the result is in ``{-1, 0, 1, 2}``, so precision is constant (at most 3 bits).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

import numpy as np

from circuitlab.circuit.ir import Circuit
from circuitlab.errors import ProblemError
from circuitlab.evaluate import evaluate
from circuitlab.problems.circuit_value import (
    BooleanCircuit,
    ConstantInstruction,
    CvpProgram,
)

logger = logging.getLogger(__name__)

__all__ = ["relu_circuit", "evaluate_relu_circuit", "program_to_circuit"]


def _levels(circuit: BooleanCircuit) -> dict[str, int]:
    level = dict.fromkeys(circuit.inputs, 0)
    for name, gate in circuit.gates.items():
        level[name] = 1 + max(level[operand] for operand in gate.operands)
    return level


def relu_circuit(circuit: BooleanCircuit) -> Circuit:
    """Build the ReLU arithmetic circuit of a monotone boolean circuit.

    Parameters
    ----------
    circuit : BooleanCircuit
        A monotone circuit (AND/OR of fan-in 2). Convert others with
        :func:`~circuitlab.problems.circuit_value.to_monotone` first.

    Returns
    -------
    Circuit
        Input group ``x`` of shape ``(num_inputs,)``, output group ``y`` of shape
        ``(num_outputs,)``. ``meta["construction"]`` is ``"cvp-relu"``.

    Raises
    ------
    ProblemError
        If the circuit has a NOT gate.

    Examples
    --------
    >>> c = BooleanCircuit(["a", "b"], {"z": ("OR", ["a", "b"])}, ["z"])
    >>> [int(v) for v in evaluate_relu_circuit(c, [0, 1])]
    [1]
    """
    if not circuit.is_monotone:
        raise ProblemError(
            "the circuit has NOT gates; convert it with to_monotone() first"
        )
    c = Circuit()
    node: dict[str, int] = {}
    inputs = c.add_input("x", (len(circuit.inputs),))
    for name, ident in zip(circuit.inputs, inputs, strict=True):
        node[name] = int(ident)
    level = _levels(circuit)
    by_level: dict[int, list[str]] = {}
    for name in circuit.gates:
        by_level.setdefault(level[name], []).append(name)
    minus_one = c.const(-1)
    for depth in sorted(by_level):
        names = by_level[depth]
        first = np.array([node[circuit.gates[n].operands[0]] for n in names])
        second = np.array([node[circuit.gates[n].operands[1]] for n in names])
        is_or = np.array([circuit.gates[n].op == "OR" for n in names])
        with c.block_scope("cvp-level", depth):
            total = c.add(first, second)
            conjunction = c.relu(c.add(total, minus_one))
            result = conjunction.copy()
            if is_or.any():
                result[is_or] = c.sub(total[is_or], conjunction[is_or])
        for name, ident in zip(names, result, strict=True):
            node[name] = int(ident)
    c.set_output("y", np.array([node[name] for name in circuit.outputs]))
    c.meta.update(
        {
            "construction": "cvp-relu",
            "model": "cvp-relu",
            "family": "relu-circuit",
            "inputs": list(circuit.inputs),
            "outputs": list(circuit.outputs),
        }
    )
    c.trim()
    return c


def evaluate_relu_circuit(
    circuit: BooleanCircuit,
    assignment: Mapping[str, bool | int] | Sequence[bool | int],
    *,
    compiled: Circuit | None = None,
) -> list:
    """Evaluate the ReLU circuit of ``circuit`` over Q and return the outputs.

    Parameters
    ----------
    circuit : BooleanCircuit
        A monotone circuit.
    assignment : Mapping or Sequence
        Input values (0/1 or bool), by name or in input order.
    compiled : Circuit, optional
        The result of :func:`relu_circuit` for ``circuit``, to avoid rebuilding.
    """
    if isinstance(assignment, Mapping):
        missing = [name for name in circuit.inputs if name not in assignment]
        if missing:
            raise ProblemError(f"assignment misses inputs {missing}")
        values = [int(bool(assignment[name])) for name in circuit.inputs]
    else:
        values = [int(bool(v)) for v in assignment]
    compiled = relu_circuit(circuit) if compiled is None else compiled
    return list(evaluate(compiled, {"x": values}, domain="Q")["y"])


def program_to_circuit(program: CvpProgram) -> tuple[BooleanCircuit, list[int]]:
    """Return a monotone circuit and assignment that compute a CVP program.

    Constants become inputs ``c0, c1, ...`` and gates ``g0, g1, ...``; the output
    is the last value the program computes.
    """
    inputs: list[str] = []
    assignment: list[int] = []
    gates: dict[str, tuple[str, list[str]]] = {}
    names: list[str] = []
    for instruction in program.instructions:
        if isinstance(instruction, ConstantInstruction):
            name = f"c{len(inputs)}"
            inputs.append(name)
            assignment.append(int(instruction.value))
        else:
            name = f"g{len(gates)}"
            operands = [names[-instruction.first], names[-instruction.second]]
            gates[name] = (instruction.op, operands)
        names.append(name)
    return BooleanCircuit(inputs, gates, [names[-1]]), assignment
