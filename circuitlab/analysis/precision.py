"""Precision metric: the largest exact bit size of any value a model computes.

The bit size of a rational p/q is the bit length of |p| plus the bit length of q
(:func:`circuitlab.rational.bit_size`), so an integer k has about ``log2 |k| + 1``
bits and 1/2^n has n + 2.

Inputs come, in this order of preference, from the caller, from the model's own
``generate_input(n, rng)`` (constructions provide it to reach their worst case),
from ``random_inputs(n, rng)`` for free-parameter models, or as uniformly random
tokens of the model's alphabet. Every draw uses ``numpy.random.default_rng((seed,
n, sample))``, so a value depends only on (seed, n, sample) and not on the order or
the process in which points are computed. With random inputs the result is the
largest over the samples drawn, a lower bound on the worst case over all inputs.
"""

from __future__ import annotations

import logging

import numpy as np

from circuitlab.errors import EvaluationError
from circuitlab.rational import bit_size, mpq

__all__ = [
    "input_source",
    "generate_inputs",
    "max_bit_size",
    "state_precision_bits",
    "circuit_precision_bits",
    "circuit_inputs",
]

logger = logging.getLogger(__name__)


def input_source(model) -> str:
    """Return where :func:`generate_inputs` takes inputs from for this model."""
    if callable(getattr(model, "generate_input", None)):
        return "generate_input"
    if callable(getattr(model, "random_inputs", None)):
        return "random_inputs"
    return "random tokens"


def generate_inputs(model, n: int, rng: np.random.Generator):
    """Return one input of length n: a token list or a dict of circuit input values."""
    source = input_source(model)
    if source == "generate_input":
        return model.generate_input(n, rng)
    if source == "random_inputs":
        return model.random_inputs(n, rng)
    spec = getattr(model, "spec", None)
    alphabet = getattr(spec, "alphabet", None)
    if not alphabet:
        raise EvaluationError(
            f"model {getattr(model, 'name', model)!r} has no alphabet, generate_input or "
            "random_inputs, so no input can be generated; pass inputs explicitly"
        )
    picks = rng.integers(len(alphabet), size=n)
    return [alphabet[int(i)] for i in picks]


def max_bit_size(values) -> int:
    """Return the largest :func:`~circuitlab.rational.bit_size` over exact values.

    Python and gmpy2 integers count as p/1. Floats are rejected because they have
    no exact bit size.
    """
    largest = 0
    for value in np.asarray(values, dtype=object).ravel():
        if isinstance(value, float):
            raise EvaluationError(
                f"float value {value!r} has no exact bit size; evaluate exactly (domain Q)"
            )
        if not hasattr(value, "denominator"):
            value = mpq(value)
        largest = max(largest, bit_size(value))
    return largest


def _rng(seed: int, n: int, sample: int) -> np.random.Generator:
    return np.random.default_rng((seed, n, sample))


def state_precision_bits(
    model, n: int, *, seed: int = 0, samples: int = 1, inputs=None
) -> int:
    """Return the largest bit size of any state value h_1..h_n of the model.

    Parameters
    ----------
    model : RecurrentModel
        Any model with ``reference_states``.
    n : int
        Number of positions.
    seed, samples : int
        Draw ``samples`` inputs (see the module docstring) when ``inputs`` is None.
    inputs : optional
        One input (a token list or an input dict) to use instead of drawing.
    """
    draws = (
        [inputs]
        if inputs is not None
        else [
            generate_inputs(model, n, _rng(seed, n, sample))
            for sample in range(samples)
        ]
    )
    largest = 0
    for draw in draws:
        states = model.reference_states(draw)
        largest = max(largest, max_bit_size(states))
    return largest


def circuit_inputs(model, draw) -> dict:
    """Return the circuit input dict of a drawn input (tokens are encoded)."""
    if isinstance(draw, dict):
        return draw
    return model.encode(list(draw))


def circuit_precision_bits(
    circuit, model, n: int, *, seed: int = 0, samples: int = 1, inputs=None
) -> int:
    """Return the largest bit size of any node value of the circuit (gates included).

    The circuit is evaluated over exact rationals (domain Q) on the same inputs
    :func:`state_precision_bits` draws, so the two are comparable: this one also
    counts intermediate values such as products of transition matrices.
    """
    from circuitlab.evaluate import evaluate

    draws = (
        [inputs]
        if inputs is not None
        else [
            generate_inputs(model, n, _rng(seed, n, sample))
            for sample in range(samples)
        ]
    )
    largest = 0
    for draw in draws:
        values = evaluate(
            circuit, circuit_inputs(model, draw), domain="Q", outputs=False
        )
        largest = max(largest, max_bit_size(values))
    return largest
