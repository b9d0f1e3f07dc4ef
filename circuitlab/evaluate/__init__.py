"""Evaluate a circuit on concrete inputs, one batch of gates at a time.

Domains
-------
``"Q"``
    Exact rationals (gmpy2 ``mpq``, or :class:`fractions.Fraction` without gmpy2).
``"Z"``
    Exact integers; every input and constant must be an integer.
``"Z_m"`` (pass ``domain="Zm", modulus=m``)
    Integers mod m, values kept in ``[0, m)``. RELU and STEP have no meaning mod m
    and are rejected.
``"float"``
    IEEE float64, the only domain that accepts TANH and SIGMOID.

Each batch contains gates of one opcode that do not read each other (an IR
invariant), so a batch is one vectorized array operation; for Q and Z the arrays
hold Python objects and numpy calls their arithmetic element by element.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

import numpy as np

from circuitlab.circuit.ops import FLOAT_ONLY, Op, op_name
from circuitlab.errors import EvaluationError
from circuitlab.rational import mpq, parse_rational

__all__ = ["evaluate", "DOMAINS", "batch_ranges"]

logger = logging.getLogger(__name__)

DOMAINS = ("Q", "Z", "Zm", "float")

_INT64_SAFE_MODULUS = 2**31


def batch_ranges(circuit) -> np.ndarray:
    """Return an array of ``(start, end)`` node ranges, one row per batch."""
    starts = circuit.batch_starts
    ends = np.append(starts[1:], circuit.num_nodes)
    return np.stack([starts, ends], axis=1)


def _convert(value, domain: str, modulus: int | None, where: str):
    if domain == "float":
        return float(value)
    if isinstance(value, float):
        raise EvaluationError(
            f"{where}: float {value!r} given to exact evaluation; "
            "pass an integer or a 'p/q' string"
        )
    try:
        exact = parse_rational(value)
    except ValueError as error:
        raise EvaluationError(f"{where}: {error}") from None
    if domain == "Q":
        return exact
    if exact.denominator != 1:
        raise EvaluationError(
            f"{where}: {value} is not an integer, but domain {domain} needs integers; "
            "use domain Q"
        )
    if domain == "Z":
        return int(exact.numerator)
    return int(exact.numerator) % modulus


def _storage(domain: str, modulus: int | None, size: int) -> np.ndarray:
    if domain == "float":
        return np.zeros(size, dtype=np.float64)
    if domain == "Zm" and modulus < _INT64_SAFE_MODULUS:
        return np.zeros(size, dtype=np.int64)
    return np.empty(size, dtype=object)


def evaluate(
    circuit,
    inputs: Mapping[str, object],
    *,
    domain: str = "Q",
    modulus: int | None = None,
    outputs: bool = True,
) -> dict[str, np.ndarray] | np.ndarray:
    """Evaluate ``circuit`` on ``inputs`` and return the output groups.

    Parameters
    ----------
    circuit : Circuit
    inputs : mapping
        Input group name to an array-like of values with the group's shape. Exact
        domains accept ints, ``"p/q"`` strings, Fractions and mpq values.
    domain : {"Q", "Z", "Zm", "float"}
    modulus : int, optional
        The modulus m for ``domain="Zm"`` (m >= 2).
    outputs : bool
        Return the output groups (default); with False return the value of every node.

    Returns
    -------
    dict of str to numpy.ndarray
        Each output group's values, shaped like the group.

    Raises
    ------
    EvaluationError
        Missing or misshapen inputs, values outside the domain, float-only gates in
        an exact domain, RELU or STEP mod m.

    Examples
    --------
    >>> from circuitlab.circuit.ir import Circuit
    >>> c = Circuit()
    >>> x = c.add_input("x", (2,))
    >>> c.set_output("y", c.mul(x[0], x[1]))
    >>> evaluate(c, {"x": ["1/2", 6]})["y"].item()
    mpq(3,1)
    """
    if domain not in DOMAINS:
        raise EvaluationError(
            f"unknown domain {domain!r}; use one of {', '.join(DOMAINS)}"
        )
    if domain == "Zm" and (modulus is None or int(modulus) < 2):
        raise EvaluationError(f"domain Zm needs a modulus m >= 2, got {modulus!r}")
    modulus = int(modulus) if modulus is not None else None
    _check_opcodes(circuit, domain)

    values = _storage(domain, modulus, circuit.num_nodes)
    _assign_inputs(circuit, inputs, values, domain, modulus)
    for node, value in circuit.const_value.items():
        values[node] = _convert(value, domain, modulus, f"constant node {node}")

    op = circuit.op
    ptr = circuit.fanin_ptr
    fanin = circuit.fanin
    for start, end in batch_ranges(circuit):
        kind = Op(int(op[start]))
        if kind in (Op.INPUT, Op.CONST):
            continue
        operands = fanin[ptr[start] : ptr[end]]
        if kind == Op.SUM:
            offsets = ptr[start:end] - ptr[start]
            result = np.add.reduceat(values[operands], offsets)
        elif end - start and ptr[start + 1] - ptr[start] == 2:
            result = _binary(
                kind, values[operands[0::2]], values[operands[1::2]], domain
            )
        else:
            result = _unary(kind, values[operands], domain)
        if domain == "Zm":
            result = result % modulus
        values[start:end] = result

    if not outputs:
        return values
    return {
        name: values[ids.reshape(-1)].reshape(ids.shape)
        for name, ids in circuit.outputs.items()
    }


def _check_opcodes(circuit, domain: str) -> None:
    if domain == "float":
        return
    present = np.unique(circuit.op)
    bad = [Op(int(o)) for o in present if Op(int(o)) in FLOAT_ONLY]
    if domain == "Zm":
        bad += [Op(int(o)) for o in present if Op(int(o)) in (Op.RELU, Op.STEP)]
    if bad:
        names = ", ".join(sorted(op_name(o) for o in bad))
        gate = int(np.flatnonzero(np.isin(circuit.op, bad))[0])
        if domain == "Zm":
            fix = "evaluate over Q or float instead"
        else:
            fix = "evaluate with domain float, or use relu/step activations"
        raise EvaluationError(
            f"gate kind {names} (first at node {gate}) cannot be evaluated in domain "
            f"{domain}; {fix}"
        )


def _assign_inputs(circuit, inputs, values, domain, modulus) -> None:
    missing = [name for name in circuit.inputs if name not in inputs]
    if missing:
        raise EvaluationError(f"missing input group(s) {', '.join(missing)}")
    extra = [name for name in inputs if name not in circuit.inputs]
    if extra:
        raise EvaluationError(
            f"unknown input group(s) {', '.join(extra)}; the circuit has "
            f"{', '.join(circuit.inputs) or 'none'}"
        )
    for name, ids in circuit.inputs.items():
        given = np.asarray(inputs[name], dtype=object)
        if given.shape != ids.shape:
            raise EvaluationError(
                f"input group {name!r} has shape {ids.shape}, got values of shape {given.shape}"
            )
        flat_ids = ids.ravel()
        flat = given.ravel()
        if domain == "float":
            try:
                values[flat_ids] = np.asarray(flat, dtype=np.float64)
            except (TypeError, ValueError):
                # Exact strings such as "1/2": parse, then round to float64.
                values[flat_ids] = [
                    float(_convert(v, "Q", None, f"input {name}[{k}]"))
                    for k, v in enumerate(flat)
                ]
            continue
        converted = {}
        for k, value in enumerate(flat):
            key = value if isinstance(value, (int, str)) else id(value)
            if key not in converted:
                converted[key] = _convert(value, domain, modulus, f"input {name}[{k}]")
            values[flat_ids[k]] = converted[key]


def _binary(kind: Op, a: np.ndarray, b: np.ndarray, domain: str) -> np.ndarray:
    if kind == Op.ADD:
        return a + b
    if kind == Op.SUB:
        return a - b
    if kind in (Op.MUL, Op.AND):
        return a * b
    if kind == Op.OR:
        return a + b - a * b
    if kind == Op.XOR:
        return a + b - 2 * (a * b)
    raise EvaluationError(f"no evaluation rule for binary gate {op_name(kind)}")


def _unary(kind: Op, a: np.ndarray, domain: str) -> np.ndarray:
    if kind == Op.NEG:
        return -a
    if kind == Op.NOT:
        return 1 - a
    if kind == Op.RELU:
        if domain == "float":
            zero = 0.0
        elif domain == "Q":
            zero = mpq(0)
        else:
            zero = 0
        return np.where(a > 0, a, zero)
    if kind == Op.STEP:
        if domain == "float":
            return (a > 0).astype(np.float64)
        one, zero = (mpq(1), mpq(0)) if domain == "Q" else (1, 0)
        return np.where(a > 0, one, zero)
    if kind == Op.TANH:
        return np.tanh(a)
    if kind == Op.SIGMOID:
        return 1.0 / (1.0 + np.exp(-a))
    raise EvaluationError(f"no evaluation rule for unary gate {op_name(kind)}")
