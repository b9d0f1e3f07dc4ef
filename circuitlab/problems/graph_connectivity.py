"""Deterministic graph connectivity: instances, file format, generators, reduction.

A deterministic graph gives every vertex at most one out-edge. Two forms are used:

- :class:`FunctionalGraph`: vertices ``1..N``, out-edges in any direction, cycles
  and self-loops allowed. The query "is ``t`` reachable from ``s``" is the
  L-complete problem.
- :class:`SortedInstance`: a source, a target and an edge list sorted by strictly
  increasing source vertex, every edge forward (``u < v``). A single left-to-right
  pass over such a list follows the walk from the source, which is what the
  counter machine in :mod:`circuitlab.problems.counter_machine` does.

:func:`layered_reduction` maps a functional-graph query to a sorted instance
whose target is a sink, and :func:`reachable` is the networkx reference solver.

Instance file format
--------------------
Plain text, one item per line, and ``#`` starts a comment that runs to the end of
the line. Keyword lines ``vertices N``, ``source s`` and ``target t`` may appear
in any order, each at most once. Every other non-blank line is an edge ``u v``::

    # the walk 1 -> 3 -> 5 reaches the target
    vertices 5
    source 1
    target 5
    1 3
    3 5

Sorted-instance files need all three keywords and edges in sorted order.
Functional-graph files need ``vertices``, and ``source`` and ``target`` are
optional there. Vertex numbers are decimal integers in ``1..N``.

Token streams
-------------
A sorted instance with source ``s``, target ``t`` and edges ``(u_i, v_i)`` becomes
the stream ``0^s |`` then ``0^u_i | 0^v_i |`` for each edge, then ``# 0^t $`` over
the alphabet :data:`STREAM_ALPHABET`, one character per token. Vertex numbers are
written in unary, so the stream has ``s + t + sum(u_i + v_i) + 2E + 3`` tokens for
``E`` edges.
"""

from __future__ import annotations

import itertools
import logging
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from os import PathLike
from pathlib import Path
from types import MappingProxyType

import networkx as nx
import numpy as np

from circuitlab.errors import FormatError, ProblemError

logger = logging.getLogger(__name__)

__all__ = [
    "STREAM_ALPHABET",
    "SORTED_SHAPES",
    "FunctionalGraph",
    "SortedInstance",
    "reachable",
    "walk_from",
    "make_target_sink",
    "layered_reduction",
    "layered_vertex",
    "encode_sorted_stream",
    "sorted_stream_runs",
    "decode_sorted_stream",
    "parse_sorted_instance",
    "read_sorted_instance",
    "format_sorted_instance",
    "write_sorted_instance",
    "parse_functional_graph",
    "read_functional_graph",
    "format_functional_graph",
    "write_functional_graph",
    "random_functional_graph",
    "random_functional_query",
    "random_sorted_instance",
    "all_sorted_edge_sets",
    "all_functional_graphs",
]

STREAM_ALPHABET: tuple[str, ...] = ("0", "|", "#", "$")
"""Tokens of the sorted-instance stream: unary digit, separator, target marker, end."""

SORTED_SHAPES: tuple[str, ...] = ("random", "chain", "merge", "near_miss")
"""Shapes that :func:`random_sorted_instance` can build."""


# ---------------------------------------------------------------------------
# Instances
# ---------------------------------------------------------------------------


def _check_vertex(value: int, num_vertices: int, label: str) -> None:
    """Raise ProblemError unless ``value`` is a vertex; ``label`` starts the message."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ProblemError(f"{label} {value!r} is not an integer vertex number")
    if not 1 <= value <= num_vertices:
        raise ProblemError(
            f"{label} {value} is out of range: vertices are numbered 1..{num_vertices}"
        )


def _check_num_vertices(num_vertices: int) -> None:
    if isinstance(num_vertices, bool) or not isinstance(
        num_vertices, (int, np.integer)
    ):
        raise ProblemError(f"num_vertices {num_vertices!r} is not an integer")
    if num_vertices < 1:
        raise ProblemError(f"num_vertices is {num_vertices}; a graph needs at least 1")


@dataclass(frozen=True, eq=True)
class FunctionalGraph:
    """Directed graph on vertices ``1..N`` with at most one out-edge per vertex.

    Parameters
    ----------
    num_vertices : int
        Number of vertices ``N >= 1``.
    edges : Mapping[int, int]
        ``edges[u] = v`` is the out-edge ``u -> v``. Self-loops and cycles are
        allowed, and a vertex missing from the mapping has no out-edge.

    Raises
    ------
    ProblemError
        If a vertex is not an integer in ``1..N``.

    Examples
    --------
    >>> g = FunctionalGraph(3, {1: 2, 2: 1})
    >>> g.successor(2), g.successor(3)
    (1, None)
    """

    num_vertices: int
    edges: Mapping[int, int]

    def __post_init__(self) -> None:
        _check_num_vertices(self.num_vertices)
        for u, v in self.edges.items():
            _check_vertex(u, self.num_vertices, f"edge {u!r} -> {v!r}: source vertex")
            _check_vertex(v, self.num_vertices, f"edge {u!r} -> {v!r}: target vertex")
        frozen = {int(u): int(v) for u, v in sorted(self.edges.items())}
        object.__setattr__(self, "num_vertices", int(self.num_vertices))
        object.__setattr__(self, "edges", MappingProxyType(frozen))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, FunctionalGraph):
            return NotImplemented
        return self.num_vertices == other.num_vertices and dict(self.edges) == dict(
            other.edges
        )

    def __hash__(self) -> int:
        return hash((self.num_vertices, tuple(self.edges.items())))

    def successor(self, vertex: int) -> int | None:
        """Return the head of the out-edge of ``vertex``, or None for a sink."""
        return self.edges.get(vertex)

    def to_networkx(self) -> nx.DiGraph:
        """Build a networkx DiGraph with nodes ``1..N`` and the same edges."""
        graph = nx.DiGraph()
        graph.add_nodes_from(range(1, self.num_vertices + 1))
        graph.add_edges_from(self.edges.items())
        return graph


@dataclass(frozen=True, eq=True)
class SortedInstance:
    """Sorted deterministic graph connectivity instance.

    Parameters
    ----------
    num_vertices : int
        Number of vertices ``N >= 1``, numbered ``1..N``.
    source, target : int
        Query vertices.
    edges : Iterable[tuple[int, int]]
        Edges ``(u, v)`` with strictly increasing ``u`` (so at most one out-edge
        per vertex) and ``u < v``.

    Raises
    ------
    ProblemError
        If a vertex is out of range, a vertex has two out-edges, the edges are
        out of order, or an edge goes backward. The message names the edge index.

    Examples
    --------
    >>> inst = SortedInstance(4, 1, 4, [(1, 3), (3, 4)])
    >>> inst.target_is_sink
    True
    """

    num_vertices: int
    source: int
    target: int
    edges: tuple[tuple[int, int], ...]

    def __post_init__(self) -> None:
        _check_num_vertices(self.num_vertices)
        _check_vertex(self.source, self.num_vertices, "source vertex")
        _check_vertex(self.target, self.num_vertices, "target vertex")
        edges = tuple((int(u), int(v)) for u, v in self.edges)
        _check_sorted_edges(
            self.num_vertices, edges, [f"edge {i}" for i in range(len(edges))]
        )
        object.__setattr__(self, "num_vertices", int(self.num_vertices))
        object.__setattr__(self, "source", int(self.source))
        object.__setattr__(self, "target", int(self.target))
        object.__setattr__(self, "edges", edges)

    @property
    def successors(self) -> dict[int, int]:
        """Mapping from each vertex with an out-edge to its successor."""
        return dict(self.edges)

    @property
    def target_is_sink(self) -> bool:
        """Whether the target has no out-edge (the promise of the counter machine)."""
        return all(u != self.target for u, _ in self.edges)

    def to_functional_graph(self) -> FunctionalGraph:
        """Return the same edges as a :class:`FunctionalGraph`."""
        return FunctionalGraph(self.num_vertices, self.successors)

    def to_networkx(self) -> nx.DiGraph:
        """Build a networkx DiGraph with nodes ``1..N`` and the same edges."""
        graph = nx.DiGraph()
        graph.add_nodes_from(range(1, self.num_vertices + 1))
        graph.add_edges_from(self.edges)
        return graph


def _check_sorted_edges(
    num_vertices: int, edges: tuple[tuple[int, int], ...], places: list[str]
) -> None:
    """Raise ProblemError on the first edge that breaks the sorted forward form.

    ``places[i]`` names where edge ``i`` came from (an index, line or token
    position) so the message can point at it.
    """
    previous_source = 0
    previous_place = ""
    for (u, v), place in zip(edges, places, strict=True):
        _check_vertex(u, num_vertices, f"{place}: edge {u} -> {v}: source vertex")
        _check_vertex(v, num_vertices, f"{place}: edge {u} -> {v}: target vertex")
        if u == previous_source:
            raise ProblemError(
                f"{place}: vertex {u} has a second out-edge {u} -> {v} (the first is "
                f"at {previous_place}); a deterministic graph allows one per vertex"
            )
        if u < previous_source:
            raise ProblemError(
                f"{place}: edge {u} -> {v} is out of order after an edge from vertex "
                f"{previous_source} ({previous_place}); sort edges by source vertex"
            )
        if v <= u:
            raise ProblemError(
                f"{place}: edge {u} -> {v} is not forward; a sorted instance needs "
                f"u < v (use FunctionalGraph and layered_reduction for other graphs)"
            )
        previous_source = u
        previous_place = place


# ---------------------------------------------------------------------------
# Reference solver and walks
# ---------------------------------------------------------------------------


def reachable(
    graph: FunctionalGraph | SortedInstance,
    source: int | None = None,
    target: int | None = None,
) -> bool:
    """Decide reachability with networkx, independently of any machine.

    Parameters
    ----------
    graph : FunctionalGraph or SortedInstance
        The graph. For a sorted instance, ``source`` and ``target`` default to the
        instance's own.
    source, target : int, optional
        Query vertices. Every vertex reaches itself.

    Returns
    -------
    bool
        Whether a directed path leads from ``source`` to ``target``.

    Raises
    ------
    ProblemError
        If a query vertex is missing or out of range.

    Examples
    --------
    >>> reachable(FunctionalGraph(3, {1: 2}), 1, 2)
    True
    """
    if isinstance(graph, SortedInstance):
        source = graph.source if source is None else source
        target = graph.target if target is None else target
    if source is None or target is None:
        raise ProblemError(
            "reachable() on a FunctionalGraph needs both source and target vertices"
        )
    _check_vertex(source, graph.num_vertices, "source vertex")
    _check_vertex(target, graph.num_vertices, "target vertex")
    return nx.has_path(graph.to_networkx(), source, target)


def walk_from(successors: Mapping[int, int], start: int) -> list[int]:
    """Follow out-edges from ``start`` and return the walk's vertices in order.

    The walk stops at a sink or just before its first repeated vertex, so on a
    cycle the last vertex listed is the one whose successor was already visited.
    """
    walk = [start]
    seen = {start}
    vertex = start
    while vertex in successors:
        vertex = successors[vertex]
        if vertex in seen:
            break
        walk.append(vertex)
        seen.add(vertex)
    return walk


def make_target_sink(instance: SortedInstance) -> SortedInstance:
    """Drop the out-edge of the target, which never changes reachability of it.

    A walk from the source reaches the target before it could use the target's
    out-edge, so whether the target is reachable does not change, and the
    result meets the counter machine's promise that the target is a sink.
    """
    edges = tuple((u, v) for u, v in instance.edges if u != instance.target)
    if len(edges) == len(instance.edges):
        return instance
    return SortedInstance(
        instance.num_vertices, instance.source, instance.target, edges
    )


# ---------------------------------------------------------------------------
# Layered reduction
# ---------------------------------------------------------------------------


def layered_vertex(num_vertices: int, layer: int, vertex: int) -> int:
    """Return the number of copy ``(layer, vertex)`` in :func:`layered_reduction`.

    Copy ``(h, v)`` with ``0 <= h <= N`` and ``1 <= v <= N`` is vertex
    ``h * N + v``. The final vertex ``F`` is ``N * (N + 1) + 1``.
    """
    return layer * num_vertices + vertex


def layered_reduction(
    graph: FunctionalGraph, source: int, target: int
) -> SortedInstance:
    """Reduce a functional-graph query to a sorted instance whose target is a sink.

    The target ``t`` is made a sink, and layered copies ``(h, v)`` for
    ``0 <= h <= N`` get the edges ``(h, v) -> (h + 1, f(v))`` for ``v != t`` with
    an out-edge and ``h < N``, and ``(h, t) -> F``. Copies are numbered by
    :func:`layered_vertex`, so every edge goes forward and the edge list sorted by
    source is the order of construction. ``F`` is reachable from ``(0, s)`` iff
    ``t`` is reachable from ``s``, because a walk that reaches ``t`` does so within
    ``N - 1`` steps. When ``s == t`` the edge ``(0, t) -> F`` makes ``F``
    reachable in one step.

    Parameters
    ----------
    graph : FunctionalGraph
        The graph ``f`` on ``N`` vertices.
    source, target : int
        Query vertices ``s`` and ``t``.

    Returns
    -------
    SortedInstance
        ``N * (N + 1) + 1`` vertices, source ``(0, s)``, target ``F`` (a sink),
        and at most ``N * (N + 1)`` edges.

    Examples
    --------
    >>> inst = layered_reduction(FunctionalGraph(2, {1: 2}), 1, 2)
    >>> inst.num_vertices, inst.source, inst.target, inst.edges
    (7, 1, 7, ((1, 4), (2, 7), (3, 6), (4, 7), (6, 7)))
    """
    n = graph.num_vertices
    _check_vertex(source, n, "source vertex")
    _check_vertex(target, n, "target vertex")
    final = n * (n + 1) + 1
    edges: list[tuple[int, int]] = []
    for layer in range(n + 1):
        for vertex in range(1, n + 1):
            copy = layered_vertex(n, layer, vertex)
            if vertex == target:
                edges.append((copy, final))
                continue
            successor = graph.edges.get(vertex)
            if successor is not None and layer < n:
                edges.append((copy, layered_vertex(n, layer + 1, successor)))
    return SortedInstance(final, layered_vertex(n, 0, source), final, tuple(edges))


# ---------------------------------------------------------------------------
# Token streams
# ---------------------------------------------------------------------------


def sorted_stream_runs(instance: SortedInstance) -> Iterator[tuple[str, int]]:
    """Yield the stream of :func:`encode_sorted_stream` as ``(token, count)`` runs.

    A run-length form lets a machine process an instance in time linear in the
    number of edges, without building the unary string.
    """
    yield ("0", instance.source)
    yield ("|", 1)
    for u, v in instance.edges:
        yield ("0", u)
        yield ("|", 1)
        yield ("0", v)
        yield ("|", 1)
    yield ("#", 1)
    yield ("0", instance.target)
    yield ("$", 1)


def encode_sorted_stream(instance: SortedInstance) -> str:
    """Encode a sorted instance as a token string, one character per token.

    Examples
    --------
    >>> encode_sorted_stream(SortedInstance(3, 1, 3, [(1, 3)]))
    '0|0|000|#000$'
    """
    return "".join(token * count for token, count in sorted_stream_runs(instance))


def decode_sorted_stream(tokens: Iterable[str]) -> SortedInstance:
    """Parse a token stream back into a :class:`SortedInstance`.

    The number of vertices is the largest vertex number in the stream.

    Raises
    ------
    ProblemError
        If the stream is malformed or breaks the sorted form. The message gives
        the 0-based position of the offending token.

    Examples
    --------
    >>> decode_sorted_stream("0|0|000|#000$").edges
    ((1, 3),)
    """
    stream = "".join(tokens)
    for position, token in enumerate(stream):
        if token not in STREAM_ALPHABET:
            raise ProblemError(
                f"token {position}: {token!r} is not in the alphabet {STREAM_ALPHABET}"
            )

    position = 0

    def read_unary(field: str) -> int:
        nonlocal position
        start = position
        while position < len(stream) and stream[position] == "0":
            position += 1
        if position == start:
            found = (
                repr(stream[position]) if position < len(stream) else "end of stream"
            )
            raise ProblemError(
                f"token {position}: expected the unary {field} (at least one '0'), "
                f"found {found}"
            )
        return position - start

    def expect(token: str, context: str) -> None:
        nonlocal position
        if position >= len(stream):
            raise ProblemError(
                f"token {position}: stream ended, expected {token!r} {context}"
            )
        if stream[position] != token:
            raise ProblemError(
                f"token {position}: expected {token!r} {context}, "
                f"found {stream[position]!r}"
            )
        position += 1

    source = read_unary("source vertex")
    expect("|", "after the source vertex")
    edges: list[tuple[int, int]] = []
    places: list[str] = []
    while position < len(stream) and stream[position] != "#":
        place = f"token {position}"
        u = read_unary("edge source")
        expect("|", "after an edge source")
        v = read_unary("edge target")
        expect("|", "after an edge target")
        edges.append((u, v))
        places.append(place)
    expect("#", "before the target vertex")
    target = read_unary("target vertex")
    expect("$", "at the end of the stream")
    if position != len(stream):
        raise ProblemError(
            f"token {position}: {stream[position]!r} follows the final '$'; "
            f"a stream ends with its first '$'"
        )

    num_vertices = max([source, target, *itertools.chain.from_iterable(edges)])
    _check_sorted_edges(num_vertices, tuple(edges), places)
    return SortedInstance(num_vertices, source, target, tuple(edges))


# ---------------------------------------------------------------------------
# Instance files
# ---------------------------------------------------------------------------

_KEYWORDS = ("vertices", "source", "target")
_INTEGER = re.compile(r"[+-]?\d+")


@dataclass
class _ParsedGraphText:
    name: str
    keywords: dict[str, tuple[int, int]]  # keyword -> (value, line number)
    edges: list[tuple[int, int, int]]  # (u, v, line number)


def _parse_graph_text(text: str, name: str) -> _ParsedGraphText:
    keywords: dict[str, tuple[int, int]] = {}
    edges: list[tuple[int, int, int]] = []
    for line_number, raw_line in enumerate(text.splitlines(), start=1):
        fields = raw_line.split("#", 1)[0].split()
        if not fields:
            continue
        where = f"{name}:{line_number}"
        if len(fields) != 2:
            found = raw_line.strip()
            raise FormatError(
                f"{where}: expected 'KEYWORD VALUE' or 'u v', found {found!r}"
            )
        first, second = fields
        if first in _KEYWORDS:
            if first in keywords:
                raise FormatError(
                    f"{where}: '{first}' is given again (first on line "
                    f"{keywords[first][1]}); keep one '{first}' line"
                )
            if not _INTEGER.fullmatch(second):
                raise FormatError(
                    f"{where}: '{first}' needs an integer, found {second!r}"
                )
            keywords[first] = (int(second), line_number)
            continue
        if not (_INTEGER.fullmatch(first) and _INTEGER.fullmatch(second)):
            raise FormatError(
                f"{where}: expected an edge 'u v' of two integers or one of the "
                f"keywords {', '.join(_KEYWORDS)}, found {raw_line.strip()!r}"
            )
        edges.append((int(first), int(second), line_number))
    if "vertices" not in keywords:
        raise FormatError(f"{name}: missing the 'vertices N' line")
    num_vertices, line_number = keywords["vertices"]
    if num_vertices < 1:
        raise FormatError(
            f"{name}:{line_number}: 'vertices {num_vertices}' must be at least 1"
        )
    for keyword in ("source", "target"):
        if keyword in keywords:
            value, line_number = keywords[keyword]
            if not 1 <= value <= num_vertices:
                raise FormatError(
                    f"{name}:{line_number}: {keyword} vertex {value} is out of range "
                    f"1..{num_vertices}"
                )
    return _ParsedGraphText(name, keywords, edges)


def parse_sorted_instance(text: str, *, name: str = "<string>") -> SortedInstance:
    """Parse a sorted instance from the text format in the module docstring.

    Parameters
    ----------
    text : str
        File contents.
    name : str
        File name used in error messages.

    Raises
    ------
    FormatError
        If a line is malformed, a keyword is missing, or an edge breaks the sorted
        form. The message gives the file name and line number.
    """
    parsed = _parse_graph_text(text, name)
    for keyword in ("source", "target"):
        if keyword not in parsed.keywords:
            raise FormatError(f"{name}: missing the '{keyword} VERTEX' line")
    num_vertices = parsed.keywords["vertices"][0]
    edges = tuple((u, v) for u, v, _ in parsed.edges)
    places = [f"{name}:{line}" for _, _, line in parsed.edges]
    try:
        _check_sorted_edges(num_vertices, edges, places)
    except ProblemError as error:
        raise FormatError(str(error)) from error
    return SortedInstance(
        num_vertices, parsed.keywords["source"][0], parsed.keywords["target"][0], edges
    )


def read_sorted_instance(path: str | PathLike[str]) -> SortedInstance:
    """Read a sorted instance file (format in the module docstring)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise FormatError(f"{path}: cannot read instance file: {error}") from error
    return parse_sorted_instance(text, name=str(path))


def format_sorted_instance(instance: SortedInstance) -> str:
    """Return the text form of a sorted instance (format in the module docstring)."""
    lines = [
        "# sorted deterministic graph connectivity instance",
        f"vertices {instance.num_vertices}",
        f"source {instance.source}",
        f"target {instance.target}",
    ]
    lines.extend(f"{u} {v}" for u, v in instance.edges)
    return "\n".join(lines) + "\n"


def write_sorted_instance(instance: SortedInstance, path: str | PathLike[str]) -> None:
    """Write a sorted instance file (format in the module docstring)."""
    Path(path).write_text(format_sorted_instance(instance), encoding="utf-8")


def parse_functional_graph(
    text: str, *, name: str = "<string>"
) -> tuple[FunctionalGraph, int | None, int | None]:
    """Parse a functional graph and its optional query vertices.

    Returns
    -------
    graph : FunctionalGraph
        The graph.
    source, target : int or None
        The ``source`` and ``target`` lines, or None where a line is absent.

    Raises
    ------
    FormatError
        If a line is malformed, an edge leaves the vertex range, or a vertex has
        two out-edges. The message gives the file name and line number.
    """
    parsed = _parse_graph_text(text, name)
    num_vertices = parsed.keywords["vertices"][0]
    edges: dict[int, int] = {}
    edge_lines: dict[int, int] = {}
    for u, v, line_number in parsed.edges:
        where = f"{name}:{line_number}"
        for vertex in (u, v):
            if not 1 <= vertex <= num_vertices:
                raise FormatError(
                    f"{where}: vertex {vertex} of edge {u} -> {v} is out of range "
                    f"1..{num_vertices}"
                )
        if u in edges:
            raise FormatError(
                f"{where}: vertex {u} has a second out-edge {u} -> {v} (first on line "
                f"{edge_lines[u]}); a deterministic graph allows one per vertex"
            )
        edges[u] = v
        edge_lines[u] = line_number
    source = parsed.keywords.get("source", (None, 0))[0]
    target = parsed.keywords.get("target", (None, 0))[0]
    return FunctionalGraph(num_vertices, edges), source, target


def read_functional_graph(
    path: str | PathLike[str],
) -> tuple[FunctionalGraph, int | None, int | None]:
    """Read a functional graph file; see :func:`parse_functional_graph`."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise FormatError(f"{path}: cannot read graph file: {error}") from error
    return parse_functional_graph(text, name=str(path))


def format_functional_graph(
    graph: FunctionalGraph, *, source: int | None = None, target: int | None = None
) -> str:
    """Return the text form of a functional graph with optional query vertices."""
    lines = ["# deterministic (functional) graph", f"vertices {graph.num_vertices}"]
    if source is not None:
        _check_vertex(source, graph.num_vertices, "source vertex")
        lines.append(f"source {source}")
    if target is not None:
        _check_vertex(target, graph.num_vertices, "target vertex")
        lines.append(f"target {target}")
    lines.extend(f"{u} {v}" for u, v in graph.edges.items())
    return "\n".join(lines) + "\n"


def write_functional_graph(
    graph: FunctionalGraph,
    path: str | PathLike[str],
    *,
    source: int | None = None,
    target: int | None = None,
) -> None:
    """Write a functional graph file; see :func:`format_functional_graph`."""
    text = format_functional_graph(graph, source=source, target=target)
    Path(path).write_text(text, encoding="utf-8")


# ---------------------------------------------------------------------------
# Enumeration for exhaustive tests
# ---------------------------------------------------------------------------


def all_sorted_edge_sets(num_vertices: int) -> Iterator[tuple[tuple[int, int], ...]]:
    """Yield every sorted forward edge list on ``1..N``, ``N!`` lists in all.

    Vertex ``u`` has no out-edge or one to any of ``u+1..N``, which gives
    ``N - u + 1`` choices.
    """
    choices = [[None, *range(u + 1, num_vertices + 1)] for u in range(1, num_vertices)]
    for heads in itertools.product(*choices):
        yield tuple((u, v) for u, v in enumerate(heads, start=1) if v is not None)


def all_functional_graphs(num_vertices: int) -> Iterator[FunctionalGraph]:
    """Yield every functional graph on ``1..N``, ``(N + 1)^N`` graphs in all."""
    options = [None, *range(1, num_vertices + 1)]
    for heads in itertools.product(options, repeat=num_vertices):
        edges = {u: v for u, v in enumerate(heads, start=1) if v is not None}
        yield FunctionalGraph(num_vertices, edges)


# ---------------------------------------------------------------------------
# Generators
# ---------------------------------------------------------------------------


def _rng(seed: np.random.Generator | int | None) -> np.random.Generator:
    return (
        seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    )


def random_functional_graph(
    num_vertices: int,
    rng: np.random.Generator | int | None = None,
    *,
    edge_probability: float = 0.9,
) -> FunctionalGraph:
    """Draw a functional graph: each vertex gets an out-edge with some probability.

    The head of each out-edge is uniform over ``1..N``, self-loops included.

    Examples
    --------
    >>> random_functional_graph(5, 0).num_vertices
    5
    """
    _check_num_vertices(num_vertices)
    if not 0.0 <= edge_probability <= 1.0:
        raise ProblemError(f"edge_probability {edge_probability} is not in [0, 1]")
    generator = _rng(rng)
    edges = {}
    for u in range(1, num_vertices + 1):
        if generator.random() < edge_probability:
            edges[u] = int(generator.integers(1, num_vertices + 1))
    return FunctionalGraph(num_vertices, edges)


def random_functional_query(
    num_vertices: int,
    rng: np.random.Generator | int | None = None,
    *,
    reachable: bool | None = None,
    edge_probability: float = 0.9,
) -> tuple[FunctionalGraph, int, int]:
    """Draw a functional graph with a query ``(s, t)`` of the requested label.

    A positive query takes ``t`` from the walk of ``s``. A negative query takes
    ``t`` off that walk, redrawing the graph when the walk covers every vertex.
    With ``reachable=None`` the label is a fair coin.

    Raises
    ------
    ProblemError
        If no negative query exists, which happens only for ``N == 1``.
    """
    _check_num_vertices(num_vertices)
    generator = _rng(rng)
    label = bool(generator.integers(2)) if reachable is None else reachable
    if num_vertices == 1 and not label:
        raise ProblemError("a graph with 1 vertex has no unreachable query; use N >= 2")
    while True:
        graph = random_functional_graph(
            num_vertices, generator, edge_probability=edge_probability
        )
        source = int(generator.integers(1, num_vertices + 1))
        walk = walk_from(graph.edges, source)
        if label:
            return graph, source, int(generator.choice(walk))
        off_walk = sorted(set(range(1, num_vertices + 1)) - set(walk))
        if off_walk:
            return graph, source, int(generator.choice(off_walk))


def random_sorted_instance(
    num_vertices: int,
    rng: np.random.Generator | int | None = None,
    *,
    reachable: bool | None = None,
    shape: str | None = None,
) -> SortedInstance:
    """Draw a sorted instance with a sink target and the requested label.

    Shapes (:data:`SORTED_SHAPES`) make labels hard to guess from local features:

    - ``random``: random short forward jumps from every vertex.
    - ``chain``: one chain from the source with gaps of 1-3 vertices. A negative
      target sits in a gap, so the chain passes right next to it.
    - ``merge``: chains from the source and from another vertex join at a common
      tail. A negative target lies on the other branch before the join.
    - ``near_miss``: the walk jumps from ``t - 1`` to ``t + 1``, over the target.

    Negative targets get an in-edge from a vertex off the walk whenever one
    exists, so "the source has an out-edge and the target has an in-edge" is true
    for most instances of both labels. Vertices off the walk get random forward
    edges, which never change the walk.

    Parameters
    ----------
    num_vertices : int
        ``N >= 1``. Negative instances need ``N >= 2``.
    rng : numpy.random.Generator or int or None
        Generator or seed.
    reachable : bool, optional
        Requested label, or a fair coin when None.
    shape : str, optional
        One of :data:`SORTED_SHAPES`, or a uniform choice when None. Shapes that
        need more vertices than ``N`` fall back to ``random``.

    Raises
    ------
    ProblemError
        If the shape is unknown or no instance of the label exists (``N == 1``
        with ``reachable=False``).

    Examples
    --------
    >>> inst = random_sorted_instance(20, 1, reachable=False, shape="near_miss")
    >>> reachable(inst), inst.target_is_sink
    (False, True)
    """
    _check_num_vertices(num_vertices)
    if shape is not None and shape not in SORTED_SHAPES:
        raise ProblemError(f"unknown shape {shape!r}; choose one of {SORTED_SHAPES}")
    generator = _rng(rng)
    label = bool(generator.integers(2)) if reachable is None else reachable
    if num_vertices == 1:
        if not label:
            raise ProblemError(
                "a graph with 1 vertex has no unreachable query; use N >= 2"
            )
        return SortedInstance(1, 1, 1, ())
    chosen = shape if shape is not None else str(generator.choice(SORTED_SHAPES))
    builders = {
        "random": _build_random_shape,
        "chain": _build_chain_shape,
        "merge": _build_merge_shape,
        "near_miss": _build_near_miss_shape,
    }
    # A builder that cannot place the label (too few vertices, or an unlucky draw)
    # returns None and is retried, then replaced by the "random" shape, which
    # always returns an instance of the label for N >= 2.
    for attempt in range(64):
        builder = builders[chosen] if attempt < 32 else _build_random_shape
        built = builder(num_vertices, generator, label)
        if built is None:
            continue
        successors, source, target = built
        instance = _finish_instance(num_vertices, successors, source, target, generator)
        if (target in walk_from(instance.successors, source)) == label:
            return instance
    # Not reached for N >= 2 because the "random" shape always succeeds. The error
    # keeps a future bug from looping forever.
    raise ProblemError(
        f"could not draw a {'reachable' if label else 'unreachable'} instance on "
        f"{num_vertices} vertices with shape {chosen!r}"
    )


def _finish_instance(
    num_vertices: int,
    successors: dict[int, int],
    source: int,
    target: int,
    generator: np.random.Generator,
) -> SortedInstance:
    """Make the target a sink, give it an in-edge, and fill the background.

    Vertices on the walk of the source keep their edges, so the label is fixed
    before any background edge is added.
    """
    successors.pop(target, None)
    on_walk = set(walk_from(successors, source))
    free = [
        u
        for u in range(1, num_vertices)
        if u not in on_walk and u != target and u not in successors
    ]
    has_in_edge = target in successors.values()
    feeders = [u for u in free if u < target]
    if not has_in_edge and feeders:
        feeder = int(generator.choice(feeders))
        successors[feeder] = target
        free.remove(feeder)
    density = generator.uniform(0.5, 0.95)
    for u in free:
        if generator.random() < density:
            span = max(1, min(num_vertices - u, int(generator.integers(1, 8))))
            successors[u] = u + int(generator.integers(1, span + 1))
    edges = tuple(sorted(successors.items()))
    return SortedInstance(num_vertices, source, target, edges)


def _chain_from(
    start: int, stop: int, generator: np.random.Generator, max_gap: int = 3
) -> list[int]:
    """Return an increasing chain from ``start`` with random gaps, ending <= stop."""
    chain = [start]
    while True:
        step = int(generator.integers(1, max_gap + 1))
        if chain[-1] + step > stop:
            return chain
        chain.append(chain[-1] + step)


def _build_random_shape(
    num_vertices: int, generator: np.random.Generator, label: bool
) -> tuple[dict[int, int], int, int] | None:
    span = int(generator.integers(1, max(2, num_vertices // 4) + 1))
    density = generator.uniform(0.6, 0.95)
    successors = {}
    for u in range(1, num_vertices):
        if generator.random() < density:
            successors[u] = min(num_vertices, u + int(generator.integers(1, span + 1)))
    source = int(generator.integers(1, max(2, num_vertices // 2) + 1))
    walk = walk_from(successors, source)
    if label:
        target = int(generator.choice(walk[1:])) if len(walk) > 1 else source
        return successors, source, target
    ahead = [v for v in range(source + 1, num_vertices + 1) if v not in walk]
    if ahead:
        return successors, source, int(generator.choice(ahead))
    if len(walk) >= 2:
        # The walk covers every vertex after the source: cut its last edge.
        del successors[walk[-2]]
        return successors, source, walk[-1]
    # The walk is just the source, and no vertex lies after it, so source == N.
    return successors, source, int(generator.integers(1, source))


def _build_chain_shape(
    num_vertices: int, generator: np.random.Generator, label: bool
) -> tuple[dict[int, int], int, int] | None:
    source = int(generator.integers(1, max(2, num_vertices // 3) + 1))
    chain = _chain_from(source, num_vertices, generator)
    successors = dict(itertools.pairwise(chain))
    if label:
        if len(chain) < 2:
            return None
        return successors, source, int(generator.choice(chain[1:]))
    gaps = [v for v in range(source + 1, chain[-1]) if v not in chain]
    if not gaps:
        return None
    return successors, source, int(generator.choice(gaps))


def _build_merge_shape(
    num_vertices: int, generator: np.random.Generator, label: bool
) -> tuple[dict[int, int], int, int] | None:
    if num_vertices < 5:
        return None
    join = int(generator.integers(max(3, num_vertices // 3), num_vertices))
    before_join = np.arange(1, join)
    generator.shuffle(before_join)
    half = len(before_join) // 2
    branch_a = sorted(int(v) for v in before_join[: max(1, half)])
    branch_b = sorted(int(v) for v in before_join[max(1, half) :])
    # Thin the branches so they pass near vertices without visiting all of them.
    branch_a = [v for i, v in enumerate(branch_a) if i == 0 or generator.random() < 0.7]
    branch_b = [v for i, v in enumerate(branch_b) if i == 0 or generator.random() < 0.7]
    if not branch_b:
        return None
    tail = _chain_from(join, num_vertices, generator)
    successors = dict(itertools.pairwise(branch_a + tail))
    successors.update(itertools.pairwise(branch_b + [join]))
    source = branch_a[0]
    if label:
        candidates = branch_a[1:] + tail
        return successors, source, int(generator.choice(candidates))
    candidates = branch_b[1:] or branch_b
    return successors, source, int(generator.choice(candidates))


def _build_near_miss_shape(
    num_vertices: int, generator: np.random.Generator, label: bool
) -> tuple[dict[int, int], int, int] | None:
    if num_vertices < 4:
        return None
    target = int(generator.integers(3, num_vertices))
    source = int(generator.integers(1, target - 1))
    head = _chain_from(source, target - 1, generator, max_gap=2)
    if head[-1] != target - 1:
        head.append(target - 1)
    if label:
        path = head + [target]
    else:
        path = head + _chain_from(target + 1, num_vertices, generator, max_gap=2)
    return dict(itertools.pairwise(path)), source, target
