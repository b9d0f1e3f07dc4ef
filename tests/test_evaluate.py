"""Tests for circuit evaluation in the domains Q, Z, Z_m and float, and its errors."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from circuitlab.circuit.ir import Circuit
from circuitlab.circuit.ops import Op
from circuitlab.errors import EvaluationError
from circuitlab.evaluate import DOMAINS, batch_ranges, evaluate
from circuitlab.rational import mpq

# ---------------------------------------------------------------------------
# One gate of each opcode
# ---------------------------------------------------------------------------

BINARY = {
    "add": lambda a, b: a + b,
    "sub": lambda a, b: a - b,
    "mul": lambda a, b: a * b,
}
BOOLEAN_BINARY = {
    "logical_and": lambda a, b: a * b,
    "logical_or": lambda a, b: a + b - a * b,
    "logical_xor": lambda a, b: (a + b) % 2,
}
UNARY = {
    "neg": lambda a: -a,
    "relu": lambda a: max(a, 0),
    "step": lambda a: int(a > 0),
}


def one_gate(method: str, arity: int) -> Circuit:
    c = Circuit(fold=False)
    x = c.add_input("x", (arity,))
    if arity == 2:
        y = getattr(c, method)(x[0], x[1])
    else:
        y = getattr(c, method)(x[0])
    c.set_output("y", np.reshape(y, (1,)))
    return c


EXACT_PAIRS = [(Fraction(-3, 2), Fraction(2, 3)), (0, 5), (7, -7), (Fraction(1, 3), 0)]
INTEGER_PAIRS = [(-3, 2), (0, 5), (7, -7), (12, 0), (2**70, 3**50)]


@pytest.mark.parametrize("method", sorted(BINARY))
def test_arithmetic_gates_over_q(method):
    c = one_gate(method, 2)
    for a, b in EXACT_PAIRS:
        result = evaluate(c, {"x": [a, b]})["y"][0]
        assert result == BINARY[method](Fraction(a), Fraction(b))
        assert isinstance(result, type(mpq(0)))


@pytest.mark.parametrize("method", sorted(BINARY))
def test_arithmetic_gates_over_z_and_zm(method):
    c = one_gate(method, 2)
    for a, b in INTEGER_PAIRS:
        expected = BINARY[method](a, b)
        assert evaluate(c, {"x": [a, b]}, domain="Z")["y"][0] == expected
        for modulus in (2, 7, 2**31 - 1, 2**61 - 1):
            result = evaluate(c, {"x": [a, b]}, domain="Zm", modulus=modulus)["y"][0]
            assert result == expected % modulus, modulus


@pytest.mark.parametrize("method", sorted(BINARY))
def test_arithmetic_gates_over_float(method):
    c = one_gate(method, 2)
    result = evaluate(c, {"x": [1.5, -0.25]}, domain="float")["y"][0]
    assert result == pytest.approx(BINARY[method](1.5, -0.25))


@pytest.mark.parametrize("method", sorted(UNARY))
@pytest.mark.parametrize("domain", ["Q", "Z", "float"])
def test_unary_gates(method, domain):
    c = one_gate(method, 1)
    for value in (-3, 0, 4):
        result = evaluate(c, {"x": [value]}, domain=domain)["y"][0]
        assert result == UNARY[method](value)
    if domain == "Q":
        result = evaluate(c, {"x": ["-5/2"]})["y"][0]
        assert result == UNARY[method](Fraction(-5, 2))


def test_neg_over_zm_stays_in_range():
    c = one_gate("neg", 1)
    assert evaluate(c, {"x": [3]}, domain="Zm", modulus=7)["y"][0] == 4
    assert evaluate(c, {"x": [0]}, domain="Zm", modulus=7)["y"][0] == 0


@pytest.mark.parametrize("method", sorted(BOOLEAN_BINARY))
@pytest.mark.parametrize("domain", DOMAINS)
def test_boolean_gates_on_bits(method, domain):
    c = one_gate(method, 2)
    for a in (0, 1):
        for b in (0, 1):
            result = evaluate(c, {"x": [a, b]}, domain=domain, modulus=5)["y"][0]
            assert result == BOOLEAN_BINARY[method](a, b), (a, b)


@pytest.mark.parametrize("domain", DOMAINS)
def test_not_gate_on_bits(domain):
    c = one_gate("logical_not", 1)
    for bit in (0, 1):
        assert evaluate(c, {"x": [bit]}, domain=domain, modulus=3)["y"][0] == 1 - bit


def test_float_only_gates_over_float():
    c = Circuit()
    x = c.add_input("x", (3,))
    c.set_output("tanh", c.activation("tanh", x))
    c.set_output("sigmoid", c.activation("sigmoid", x))
    out = evaluate(c, {"x": [-1.0, 0.0, 2.0]}, domain="float")
    np.testing.assert_allclose(out["tanh"], np.tanh([-1.0, 0.0, 2.0]))
    expected = [1 / (1 + math.exp(1.0)), 0.5, 1 / (1 + math.exp(-2.0))]
    np.testing.assert_allclose(out["sigmoid"], expected)


@pytest.mark.parametrize("domain", DOMAINS)
def test_sum_gates_of_mixed_fanin(domain):
    c = Circuit()
    x = c.add_input("x", (5,))
    sums = c.append_varargs(
        Op.SUM, [1, 4, 2], [x[0], x[1], x[2], x[3], x[4], x[0], x[4]]
    )
    c.set_output("s", sums)
    out = evaluate(c, {"x": [1, 2, 3, 4, 5]}, domain=domain, modulus=7)["s"]
    expected = [1, 14, 6]
    if domain == "Zm":
        expected = [v % 7 for v in expected]
    assert out.tolist() == expected


# ---------------------------------------------------------------------------
# Domain semantics
# ---------------------------------------------------------------------------


def test_exact_inputs_accept_strings_fractions_and_mpq():
    c = one_gate("add", 2)
    for a, b in [
        ("1/2", "1/3"),
        (Fraction(1, 2), Fraction(1, 3)),
        (mpq(1, 2), mpq(1, 3)),
    ]:
        assert evaluate(c, {"x": [a, b]})["y"][0] == Fraction(5, 6)
    assert evaluate(c, {"x": np.array([1, 2])})["y"][0] == 3


def test_integer_domain_never_overflows():
    c = Circuit()
    x = c.add_input("x", (2,))
    big = c.mul(c.step(x), c.const(2**62))
    c.set_output("y", c.mul(big, big))
    out = evaluate(c, {"x": [1, -1]}, domain="Z")["y"]
    assert out.tolist() == [2**124, 0]
    assert all(type(v) is int for v in out)


def test_zm_reduces_inputs_and_constants():
    c = Circuit()
    x = c.add_input("x", (2,))
    c.set_output("y", [c.add(c.mul(x[0], c.const(-10)), x[1])])
    out = evaluate(c, {"x": [-1, 30]}, domain="Zm", modulus=7)["y"][0]
    assert out == (10 + 30) % 7


def test_zm_large_modulus_exact():
    modulus = 2**127 - 1
    c = one_gate("mul", 2)
    a, b = 2**100 + 3, 2**90 + 7
    assert (
        evaluate(c, {"x": [a, b]}, domain="Zm", modulus=modulus)["y"][0]
        == a * b % modulus
    )


def test_scalar_output_group_is_zero_dim_array():
    c = Circuit()
    x = c.add_input("x", (2,))
    c.set_output("y", c.mul(x[0], x[1]))
    result = evaluate(c, {"x": ["1/2", 6]})["y"]
    assert isinstance(result, np.ndarray)
    assert result.shape == ()
    assert result.item() == 3


def test_output_groups_keep_shape():
    c = Circuit()
    x = c.add_input("x", (2, 3))
    c.set_output("double", c.add(x, x))
    c.set_output("first", x[:, 0])
    out = evaluate(c, {"x": [[1, 2, 3], [4, 5, 6]]})
    assert out["double"].shape == (2, 3)
    assert out["double"].tolist() == [[2, 4, 6], [8, 10, 12]]
    assert out["first"].tolist() == [1, 4]


def test_all_node_values():
    c = Circuit()
    x = c.add_input("x", (2,))
    c.set_output("y", c.mul(x[0], c.add(x[1], c.const(1))))
    values = evaluate(c, {"x": [3, 4]}, outputs=False)
    assert len(values) == c.num_nodes
    assert values.tolist() == [3, 4, 1, 5, 15]


def test_batch_ranges_partition_nodes():
    c = Circuit()
    x = c.add_input("x", (4,))
    c.set_output("y", c.sum(c.mul(x, x)))
    ranges = batch_ranges(c)
    assert ranges[0, 0] == 0
    assert ranges[-1, 1] == c.num_nodes
    assert (ranges[1:, 0] == ranges[:-1, 1]).all()
    assert (ranges[:, 1] > ranges[:, 0]).all()


# ---------------------------------------------------------------------------
# Random circuits against a node-by-node interpreter
# ---------------------------------------------------------------------------

RANDOM_OPS = ("add", "sub", "mul", "neg", "relu", "step", "const")


@st.composite
def random_circuits(draw, allow_threshold=True):
    ops = RANDOM_OPS if allow_threshold else ("add", "sub", "mul", "neg", "const")
    width = draw(st.integers(1, 4))
    fold = draw(st.booleans())
    program = draw(
        st.lists(
            st.tuples(
                st.sampled_from(ops),
                st.integers(0, 10**6),
                st.integers(0, 10**6),
                st.integers(-3, 3),
            ),
            min_size=1,
            max_size=25,
        )
    )
    values = draw(st.lists(st.integers(-4, 4), min_size=width, max_size=width))
    return width, fold, program, values


def build_random(width, fold, program):
    """Build a circuit from instructions; return it and one Python rule per node."""
    c = Circuit(fold=fold)
    x = c.add_input("x", (width,))
    nodes = [int(v) for v in x]
    for op, i, j, constant in program:
        a, b = nodes[i % len(nodes)], nodes[j % len(nodes)]
        if op == "const":
            nodes.append(int(c.mul(a, c.const(Fraction(constant, 2)))))
        elif op in ("add", "sub", "mul"):
            nodes.append(int(getattr(c, op)(a, b)))
        else:
            nodes.append(int(getattr(c, op)(a)))
    c.set_output("y", np.array(nodes[width:]))
    return c


def interpret(c: Circuit, values) -> list:
    result: list = [None] * c.num_nodes
    for node, value in zip(c.inputs["x"], values, strict=True):
        result[int(node)] = Fraction(value)
    for node, value in c.const_value.items():
        result[node] = Fraction(int(value.numerator), int(value.denominator))
    rules = {
        Op.ADD: lambda a, b: a + b,
        Op.SUB: lambda a, b: a - b,
        Op.MUL: lambda a, b: a * b,
        Op.NEG: lambda a: -a,
        Op.RELU: lambda a: max(a, Fraction(0)),
        Op.STEP: lambda a: Fraction(int(a > 0)),
    }
    ptr = c.fanin_ptr
    for node in range(c.num_nodes):
        op = Op(int(c.op[node]))
        if op in (Op.INPUT, Op.CONST):
            continue
        operands = c.fanin[ptr[node] : ptr[node + 1]]
        result[node] = rules[op](*(result[int(k)] for k in operands))
    return result


@settings(max_examples=60)
@given(random_circuits())
def test_random_circuit_q_matches_interpreter(case):
    width, fold, program, values = case
    c = build_random(width, fold, program)
    reference = interpret(c, values)
    out = evaluate(c, {"x": values})["y"]
    assert out.tolist() == [reference[int(node)] for node in c.outputs["y"]]
    floats = evaluate(c, {"x": values}, domain="float")["y"]
    expected = [float(reference[int(node)]) for node in c.outputs["y"]]
    np.testing.assert_allclose(floats, expected, rtol=1e-12, atol=1e-12)


@settings(max_examples=60)
@given(random_circuits(allow_threshold=False), st.sampled_from([2, 3, 7, 2**31 + 11]))
def test_random_circuit_zm_is_q_mod_m(case, modulus):
    width, fold, program, values = case
    # Integer constants only, so every node value is an integer.
    program = [(op, i, j, 2 * k) for op, i, j, k in program]
    c = build_random(width, fold, program)
    reference = interpret(c, values)
    out = evaluate(c, {"x": values}, domain="Zm", modulus=modulus)["y"]
    assert out.tolist() == [
        int(reference[int(node)]) % modulus for node in c.outputs["y"]
    ]
    integers = evaluate(c, {"x": values}, domain="Z")["y"]
    assert integers.tolist() == [int(reference[int(node)]) for node in c.outputs["y"]]


# ---------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("activation", ["tanh", "sigmoid"])
@pytest.mark.parametrize("domain", ["Q", "Z", "Zm"])
def test_float_only_gate_rejected_in_exact_domain(activation, domain):
    c = Circuit()
    x = c.add_input("x", (1,))
    c.set_output("y", c.activation(activation, x))
    with pytest.raises(EvaluationError) as error:
        evaluate(c, {"x": [1]}, domain=domain, modulus=7)
    message = str(error.value)
    assert activation in message
    assert f"domain {domain}" in message
    assert "float" in message


@pytest.mark.parametrize("activation", ["relu", "step"])
def test_threshold_gate_rejected_mod_m(activation):
    c = Circuit()
    x = c.add_input("x", (1,))
    c.set_output("y", c.activation(activation, x))
    with pytest.raises(EvaluationError, match=f"{activation}.*domain Zm"):
        evaluate(c, {"x": [1]}, domain="Zm", modulus=7)


def test_missing_input_group_rejected():
    c = one_gate("add", 2)
    with pytest.raises(EvaluationError, match="missing input group.*x"):
        evaluate(c, {})


def test_extra_input_group_rejected():
    c = one_gate("add", 2)
    with pytest.raises(EvaluationError, match="unknown input group.*'?z'?.*has x"):
        evaluate(c, {"x": [1, 2], "z": [3]})


@pytest.mark.parametrize("values", [[1], [1, 2, 3], [[1, 2]], 5])
def test_misshapen_input_rejected(values):
    c = one_gate("add", 2)
    with pytest.raises(EvaluationError, match=r"'x' has shape \(2,\)"):
        evaluate(c, {"x": values})


@pytest.mark.parametrize("domain", ["Z", "Zm"])
def test_non_integer_input_rejected_in_integer_domains(domain):
    c = one_gate("add", 2)
    with pytest.raises(EvaluationError, match=r"x\[1\].*1/2 is not an integer"):
        evaluate(c, {"x": [1, "1/2"]}, domain=domain, modulus=7)


def test_non_integer_constant_rejected_in_z():
    c = Circuit()
    x = c.add_input("x", (1,))
    c.set_output("y", c.mul(x, c.const("1/3")))
    with pytest.raises(EvaluationError, match="constant node .*1/3 is not an integer"):
        evaluate(c, {"x": [3]}, domain="Z")


def test_float_input_rejected_in_exact_domain():
    c = one_gate("add", 2)
    with pytest.raises(EvaluationError, match="float 0.5"):
        evaluate(c, {"x": [0.5, 1]})


@pytest.mark.parametrize("modulus", [None, 1, 0, -5])
def test_modulus_below_two_rejected(modulus):
    c = one_gate("add", 2)
    with pytest.raises(EvaluationError, match="modulus m >= 2"):
        evaluate(c, {"x": [1, 2]}, domain="Zm", modulus=modulus)


def test_unknown_domain_rejected():
    c = one_gate("add", 2)
    with pytest.raises(EvaluationError, match="unknown domain 'R'"):
        evaluate(c, {"x": [1, 2]}, domain="R")


@pytest.mark.parametrize("value", ["abc", True, "1/0", None])
def test_invalid_exact_input_raises_evaluation_error(value):
    c = one_gate("add", 2)
    with pytest.raises(EvaluationError, match=r"x\[0\]"):
        evaluate(c, {"x": [value, 1]})


def test_float_domain_reads_rational_strings():
    c = one_gate("add", 2)
    result = evaluate(c, {"x": ["1/2", 1]}, domain="float")["y"][0]
    assert result == 1.5
