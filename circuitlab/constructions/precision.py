"""Precision of the constructions as the instance size grows.

:func:`precision_by_size` draws random instances of each size, runs the
construction exactly, and records the largest
:func:`~circuitlab.rational.bit_size` (bits of numerator plus denominator) of any
state value. The theory predicts ``O(log n)`` bits for the counter RNN (its
counters stay below the stream length) and bits linear in the number of stack
operations for the stack RNN (a depth-``k`` gapped stack takes ``4 k + 1`` bits).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from circuitlab.constructions.counter_rnn import COUNTER_SPEC_NAME, connectivity_stream
from circuitlab.constructions.evaluation import IntegerBatchMlp, SparseMlp
from circuitlab.constructions.instances import random_cvp_instance
from circuitlab.constructions.relu_cvp import relu_circuit
from circuitlab.constructions.stack_rnn import STACK_SPEC_NAME
from circuitlab.errors import ProblemError
from circuitlab.problems.circuit_value import encode_cvp_stream
from circuitlab.problems.graph_connectivity import random_sorted_instance
from circuitlab.rational import bit_size

logger = logging.getLogger(__name__)

__all__ = ["PrecisionPoint", "precision_by_size"]


@dataclass(frozen=True)
class PrecisionPoint:
    """Measured precision at one instance size.

    Attributes
    ----------
    size : int
        Vertices (connectivity) or gates (CVP).
    instances : int
        Instances drawn.
    max_bits : int
        Largest bit size of a state value (a gate value for ``cvp-relu``).
    max_length : int
        Longest stream in tokens (``cvp-relu``: max gates of a ReLU circuit).
    """

    size: int
    instances: int
    max_bits: int
    max_length: int


def precision_by_size(
    construction: str,
    sizes: Sequence[int],
    rng: np.random.Generator | int | None = None,
    *,
    samples: int = 8,
    progress: Callable[[str, int, int], None] | None = None,
) -> list[PrecisionPoint]:
    """Measure the largest state precision of a construction at each size.

    Parameters
    ----------
    construction : {"graph-connectivity", "cvp-stack", "cvp-relu"}
        ``graph-connectivity`` draws sorted instances with ``n`` vertices (all
        shapes of :func:`~circuitlab.problems.graph_connectivity.
        random_sorted_instance`). The CVP constructions draw
        :func:`~circuitlab.constructions.instances.random_cvp_instance` with
        ``n`` gates.
    sizes : Sequence[int]
        Instance sizes, each at least 2.
    rng : numpy.random.Generator or int or None
        Generator or seed.
    samples : int
        Instances per size.

    Returns
    -------
    list[PrecisionPoint]
        One point per size, in the given order.

    Examples
    --------
    >>> [p.max_bits for p in precision_by_size("graph-connectivity", [4, 64], 0)]
    [4, 8]
    """
    from circuitlab.constructions.verify import construction_spec

    generator = (
        rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    )
    if any(int(n) < 2 for n in sizes):
        raise ProblemError(f"sizes {list(sizes)} must all be at least 2")
    points = []
    if construction == "graph-connectivity":
        runner = IntegerBatchMlp(construction_spec(COUNTER_SPEC_NAME))
        for k, n in enumerate(sizes):
            streams = [
                connectivity_stream(random_sorted_instance(int(n), generator))
                for _ in range(samples)
            ]
            run = runner.run(streams)
            points.append(
                PrecisionPoint(
                    int(n), samples, int(run.max_bits.max()), max(map(len, streams))
                )
            )
            if progress:
                progress("sizes", k + 1, len(sizes))
        return points
    if construction == "cvp-stack":
        runner = SparseMlp(construction_spec(STACK_SPEC_NAME))
        for k, n in enumerate(sizes):
            bits, longest = 0, 0
            for _ in range(samples):
                circuit, assignment = random_cvp_instance(int(n), generator)
                stream = encode_cvp_stream(circuit, assignment)
                bits = max(bits, runner.run(stream).max_bits)
                longest = max(longest, len(stream))
            points.append(PrecisionPoint(int(n), samples, bits, longest))
            if progress:
                progress("sizes", k + 1, len(sizes))
        return points
    if construction == "cvp-relu":
        from circuitlab.evaluate import evaluate

        for k, n in enumerate(sizes):
            bits, largest = 0, 0
            for _ in range(samples):
                circuit, assignment = random_cvp_instance(int(n), generator)
                compiled = relu_circuit(circuit)
                nodes = evaluate(compiled, {"x": assignment}, domain="Q", outputs=False)
                bits = max(bits, max(bit_size(v) for v in nodes))
                largest = max(largest, compiled.num_gates)
            points.append(PrecisionPoint(int(n), samples, bits, largest))
            if progress:
                progress("sizes", k + 1, len(sizes))
        return points
    raise ProblemError(
        f"unknown construction {construction!r}; use graph-connectivity, cvp-stack "
        f"or cvp-relu"
    )
