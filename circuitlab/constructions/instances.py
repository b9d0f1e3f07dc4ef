"""Instance sets for checking the constructions: exhaustive and random.

Connectivity queries come with their networkx answer and the stream the counter RNN
reads; identical streams are stored once, because exhaustive sets repeat them (a
functional graph's query does not depend on the target's own out-edge once the
layered reduction makes the target a sink). CVP instances are programs (every
straight-line program up to a number of instructions) or random monotone circuits
whose operands come from a window of recent signals, so the program has ``O(n)``
bits for ``n`` gates.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field

import networkx as nx
import numpy as np

from circuitlab.constructions.counter_rnn import connectivity_stream
from circuitlab.errors import ProblemError
from circuitlab.problems.circuit_value import (
    BooleanCircuit,
    ConstantInstruction,
    CvpProgram,
    Gate,
    GateInstruction,
)
from circuitlab.problems.graph_connectivity import (
    FunctionalGraph,
    SortedInstance,
    all_functional_graphs,
    all_sorted_edge_sets,
    random_functional_query,
    random_sorted_instance,
)

logger = logging.getLogger(__name__)

__all__ = [
    "FUNCTIONAL_RANDOM_MAX_VERTICES",
    "ConnectivityQueries",
    "exhaustive_connectivity",
    "random_connectivity",
    "all_cvp_programs",
    "random_local_circuit",
    "random_cvp_instance",
    "far_operand_circuit",
]

FUNCTIONAL_RANDOM_MAX_VERTICES = 16
"""Largest functional graph that :func:`random_connectivity` draws.

The layered reduction of an ``N``-vertex graph has ``N (N + 1) + 1`` vertices,
and its unary stream about ``N^4`` tokens (65 000 for ``N = 16``).
"""


@dataclass
class ConnectivityQueries:
    """Reachability queries with their reference answers and RNN streams.

    Attributes
    ----------
    streams : list[str]
        Distinct streams, each the input of one RNN run.
    stream_of : list[int]
        For each query, the index of its stream.
    expected : list[bool]
        For each query, the networkx answer.
    queries : list[tuple]
        For each query, ``(graph, source, target)`` to describe failures.
    sizes : list[int]
        For each query, the number of vertices of its graph.
    """

    streams: list[str] = field(default_factory=list)
    stream_of: list[int] = field(default_factory=list)
    expected: list[bool] = field(default_factory=list)
    queries: list[tuple] = field(default_factory=list)
    sizes: list[int] = field(default_factory=list)
    _index: dict = field(default_factory=dict, repr=False)

    def add(self, key, make_stream, graph, source: int, target: int, answer: bool):
        """Record a query; ``make_stream()`` runs only for a new ``key``."""
        index = self._index.get(key)
        if index is None:
            index = len(self.streams)
            self.streams.append(make_stream())
            self._index[key] = index
        self.stream_of.append(index)
        self.expected.append(bool(answer))
        self.queries.append((graph, source, target))
        self.sizes.append(graph.num_vertices)

    def __len__(self) -> int:
        return len(self.expected)


def _closure(graph: FunctionalGraph | SortedInstance) -> dict[int, set[int]]:
    """Return, per vertex, the set of vertices it reaches (networkx, reflexive)."""
    digraph = graph.to_networkx()
    return {v: nx.descendants(digraph, v) | {v} for v in digraph.nodes}


def exhaustive_connectivity(
    max_sorted: int, max_functional: int
) -> ConnectivityQueries:
    """Return every sorted and every functional query up to the given sizes.

    Sorted instances: every sorted forward edge list on ``1..N`` for
    ``N <= max_sorted`` with every source and target, including targets with an
    out-edge. Functional graphs: every graph on ``1..N`` for
    ``N <= max_functional`` (``(N + 1)^N`` graphs) with every source and target.
    """
    found = ConnectivityQueries()
    for n in range(1, max_sorted + 1):
        for edges in all_sorted_edge_sets(n):
            instance = SortedInstance(n, 1, 1, edges)
            reach = _closure(instance)
            for source, target in itertools.product(range(1, n + 1), repeat=2):
                query = SortedInstance(n, source, target, edges)
                kept = tuple((u, v) for u, v in edges if u != target)
                key = ("sorted", source, target, kept)
                found.add(
                    key,
                    lambda q=query: connectivity_stream(q),
                    query,
                    source,
                    target,
                    target in reach[source],
                )
    for n in range(1, max_functional + 1):
        for graph in all_functional_graphs(n):
            reach = _closure(graph)
            for source, target in itertools.product(range(1, n + 1), repeat=2):
                kept = tuple(
                    graph.edges.get(v, 0) for v in range(1, n + 1) if v != target
                )
                key = ("functional", n, source, target, kept)
                found.add(
                    key,
                    lambda g=graph, s=source, t=target: connectivity_stream(g, s, t),
                    graph,
                    source,
                    target,
                    target in reach[source],
                )
    return found


def random_connectivity(
    count: int, min_size: int, max_size: int, rng: np.random.Generator
) -> ConnectivityQueries:
    """Draw ``count`` random reachability queries with sizes in ``[min, max]``.

    Three kinds rotate: a sorted instance from
    :func:`~circuitlab.problems.graph_connectivity.random_sorted_instance` (sink
    target), the same with an out-edge added to the target (so the pipeline must
    drop it), and a functional-graph query, drawn only for sizes up to
    :data:`FUNCTIONAL_RANDOM_MAX_VERTICES` (a sorted one replaces it above).
    """
    if min_size < 1 or max_size < min_size:
        raise ProblemError(f"invalid size range {min_size}..{max_size}")
    found = ConnectivityQueries()
    for k in range(count):
        n = int(rng.integers(min_size, max_size + 1))
        kind = k % 3
        if kind == 2 and n <= FUNCTIONAL_RANDOM_MAX_VERTICES and n >= 2:
            graph, source, target = random_functional_query(n, rng)
            answer = target in _closure(graph)[source]
            found.add(
                ("random", k),
                lambda g=graph, s=source, t=target: connectivity_stream(g, s, t),
                graph,
                source,
                target,
                answer,
            )
            continue
        instance = (
            random_sorted_instance(n, rng) if n >= 2 else SortedInstance(1, 1, 1, ())
        )
        if kind == 1 and instance.target < n:
            instance = _with_target_out_edge(instance, rng)
        answer = instance.target in _closure(instance)[instance.source]
        found.add(
            ("random", k),
            lambda q=instance: connectivity_stream(q),
            instance,
            instance.source,
            instance.target,
            answer,
        )
    return found


def _with_target_out_edge(
    instance: SortedInstance, rng: np.random.Generator
) -> SortedInstance:
    """Give the target a forward out-edge, as a raw instance might have."""
    target = instance.target
    head = int(rng.integers(target + 1, instance.num_vertices + 1))
    edges = dict(instance.edges)
    edges[target] = head
    return SortedInstance(
        instance.num_vertices,
        instance.source,
        target,
        tuple(sorted(edges.items())),
    )


# ---------------------------------------------------------------------------
# CVP
# ---------------------------------------------------------------------------


def all_cvp_programs(max_instructions: int) -> Iterator[CvpProgram]:
    """Yield every CVP program with 1 to ``max_instructions`` instructions.

    Instruction ``i`` (0-based) is a constant 0 or 1, or for ``i >= 1`` a gate
    AND/OR with operand offsets in ``1..i``: ``prod_i (2 + 2 i^2)`` programs of
    ``k`` instructions (2, 8, 80, 1600, 54 400 for ``k = 1..5``).
    """

    def choices(i: int) -> list:
        options: list = [ConstantInstruction(False), ConstantInstruction(True)]
        for op in ("AND", "OR"):
            for first in range(1, i + 1):
                for second in range(1, i + 1):
                    options.append(GateInstruction(op, first, second))
        return options

    for length in range(1, max_instructions + 1):
        for instructions in itertools.product(*(choices(i) for i in range(length))):
            yield CvpProgram(tuple(instructions))


def random_local_circuit(
    num_gates: int,
    rng: np.random.Generator,
    *,
    num_inputs: int | None = None,
    window: int = 8,
    monotone: bool = True,
    not_probability: float = 0.2,
) -> BooleanCircuit:
    """Draw a circuit whose gates read signals among the last ``window`` ones.

    Inputs are ``x0, x1, ...`` and gates ``g0, g1, ...``; the output is the last
    gate. With bounded operand distance the CVP program has at most
    ``2 num_inputs + (2 + 2 window) num_gates`` bits, linear in the size.

    Parameters
    ----------
    num_gates : int
        At least 1.
    num_inputs : int, optional
        Default ``max(1, num_gates // 4)``.
    window : int
        Operands are uniform over the last ``window`` signals (at least 1).
    monotone : bool
        Without it, a gate is ``NOT`` with probability ``not_probability``.
    """
    if num_gates < 1 or window < 1:
        raise ProblemError(
            f"random_local_circuit needs num_gates >= 1 and window >= 1, got "
            f"{num_gates} and {window}"
        )
    inputs = max(1, num_gates // 4) if num_inputs is None else num_inputs
    if inputs < 1:
        raise ProblemError(f"num_inputs {inputs} must be at least 1")
    signals = [f"x{i}" for i in range(inputs)]
    gates: dict[str, Gate] = {}
    for i in range(num_gates):
        low = max(0, len(signals) - window)
        first, second = (int(v) for v in rng.integers(low, len(signals), size=2))
        name = f"g{i}"
        if not monotone and rng.random() < not_probability:
            gates[name] = Gate("NOT", (signals[first],))
        else:
            op = "AND" if rng.integers(2) == 0 else "OR"
            gates[name] = Gate(op, (signals[first], signals[second]))
        signals.append(name)
    return BooleanCircuit(signals[:inputs], gates, [signals[-1]])


def random_cvp_instance(
    num_gates: int, rng: np.random.Generator, *, monotone: bool = True
) -> tuple[BooleanCircuit, list[int]]:
    """Draw :func:`random_local_circuit` with a uniform random assignment."""
    circuit = random_local_circuit(num_gates, rng, monotone=monotone)
    assignment = [int(v) for v in rng.integers(0, 2, len(circuit.inputs))]
    return circuit, assignment


def far_operand_circuit(
    num_gates: int, rng: np.random.Generator, *, window: int = 8
) -> tuple[BooleanCircuit, list[int]]:
    """Draw a monotone circuit whose gates read the newest and the oldest window value.

    Gate ``i`` reads the signal just before it and the one ``window`` places back
    (the first signal when fewer exist). Among circuits whose operands lie within
    the last ``window`` signals, its program has the most bits:
    ``2 max(1, n // 4) + sum_i (3 + min(window, signals before i))`` for ``n``
    gates. Only the gate types (AND/OR) and the input values are random, so the
    stream length depends on ``n`` alone.
    """
    if num_gates < 1 or window < 1:
        raise ProblemError(
            f"far_operand_circuit needs num_gates >= 1 and window >= 1, got "
            f"{num_gates} and {window}"
        )
    inputs = max(1, num_gates // 4)
    signals = [f"x{i}" for i in range(inputs)]
    gates: dict[str, Gate] = {}
    for i in range(num_gates):
        far = signals[max(0, len(signals) - window)]
        op = "AND" if rng.integers(2) == 0 else "OR"
        gates[f"g{i}"] = Gate(op, (signals[-1], far))
        signals.append(f"g{i}")
    assignment = [int(v) for v in rng.integers(0, 2, inputs)]
    return BooleanCircuit(signals[:inputs], gates, [signals[-1]]), assignment
