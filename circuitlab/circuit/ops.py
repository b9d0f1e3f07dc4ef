"""Gate opcodes of the circuit IR and their properties.

Arithmetic gates (ADD, SUB, MUL, NEG, SUM) are exact over Q, Z and Z_m. Boolean gates
(AND, OR, NOT, XOR) take values in {0, 1}; over Q they equal the polynomials ab,
a + b - ab, 1 - a and a + b - 2ab, so they are not counted as nonlinear. RELU and STEP
(the positive threshold [x > 0]) are exact over Q; TANH and SIGMOID exist only in
float64 evaluation.
"""

from __future__ import annotations

from enum import IntEnum

import numpy as np

__all__ = [
    "Op",
    "ARITY",
    "NONLINEAR",
    "FLOAT_ONLY",
    "BOOLEAN",
    "COMMUTATIVE",
    "op_name",
]


class Op(IntEnum):
    """Opcode of a node. INPUT and CONST nodes are not operation gates."""

    INPUT = 0
    CONST = 1
    ADD = 2
    SUB = 3
    MUL = 4
    NEG = 5
    SUM = 6
    RELU = 7
    STEP = 8
    AND = 9
    OR = 10
    NOT = 11
    XOR = 12
    TANH = 13
    SIGMOID = 14


#: Number of operands of each opcode; -1 for unbounded fan-in (CSR operand lists).
ARITY = {
    Op.INPUT: 0,
    Op.CONST: 0,
    Op.ADD: 2,
    Op.SUB: 2,
    Op.MUL: 2,
    Op.NEG: 1,
    Op.SUM: -1,
    Op.RELU: 1,
    Op.STEP: 1,
    Op.AND: 2,
    Op.OR: 2,
    Op.NOT: 1,
    Op.XOR: 2,
    Op.TANH: 1,
    Op.SIGMOID: 1,
}

#: Gates counted by the nonlinear depth metric.
NONLINEAR = frozenset({Op.RELU, Op.STEP, Op.TANH, Op.SIGMOID})

#: Gates that exact (Q, Z, Z_m) evaluation rejects.
FLOAT_ONLY = frozenset({Op.TANH, Op.SIGMOID})

#: Gates whose operands and result are 0/1 values.
BOOLEAN = frozenset({Op.AND, Op.OR, Op.NOT, Op.XOR})

COMMUTATIVE = frozenset({Op.ADD, Op.MUL, Op.AND, Op.OR, Op.XOR, Op.SUM})

#: Lookup table: NONLINEAR_MASK[op] is 1 for nonlinear opcodes.
NONLINEAR_MASK = np.zeros(len(Op), dtype=np.int32)
for _op in NONLINEAR:
    NONLINEAR_MASK[_op] = 1


def op_name(op: int) -> str:
    """Return the lower-case name of an opcode, e.g. ``"mul"``."""
    return Op(int(op)).name.lower()
