"""Assemble drawn panels into one DOT graph whose ranks are circuit depths.

A :class:`Panel` is one circuit drawn at gate or block level: nodes with a rank
(a depth), edges and heading lines. :func:`assemble` writes one or more panels into
one graph. Every rank that a node uses gets an anchor node on a depth ruler at the
left, and every node shares ``rank=same`` with the anchor of its depth, so equal
depths share a y coordinate and deeper nodes sit lower. Ruler edges have
``minlen`` equal to the depth gap and a weight above the total weight of all other
edges, so the layout cannot profit from stretching the ruler and the rank distance
between depths equals their difference. Several panels become clusters side by
side under one ruler, which gives them the same vertical scale (``newrank=true``
lets ``rank=same`` reach into clusters).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import pairwise

import graphviz

from circuitlab.circuit.ops import Op
from circuitlab.render.style import FONT, legend_rows, title_table

__all__ = ["DrawNode", "DrawEdge", "Panel", "assemble"]


@dataclass
class DrawNode:
    """A node to draw: DOT name, rank (a depth), DOT attributes and left-to-right order.

    Nodes of one rank are placed left to right by ``order`` (a sort key such as a
    position or a node id).
    """

    name: str
    rank: int
    attrs: dict[str, str]
    order: tuple = ()


@dataclass
class DrawEdge:
    """An edge to draw between two node names, with DOT attributes."""

    tail: str
    head: str
    attrs: dict[str, str]


@dataclass
class Panel:
    """One circuit drawn at one level, ready to be placed in a graph.

    ``notes`` are heading lines after the statistics; ``grouping`` repeats the note
    that states how blocks were grouped, or is None when every block has a node.
    """

    level: str
    heading: list[str]
    nodes: list[DrawNode] = field(default_factory=list)
    edges: list[DrawEdge] = field(default_factory=list)
    legend_ops: list[Op] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    grouping: str | None = None


def _ranksep(max_rank: int, level: str) -> str:
    """Return the rank separation in inches: fixed for gates, shrinking for blocks.

    Block drawings keep one rank per depth, so a deep chain would otherwise be
    hundreds of inches tall. 0.02 is the minimum ``ranksep`` in the Graphviz
    attribute reference (graphviz.org/docs/attrs/ranksep).
    """
    if level == "gate" or max_rank <= 0:
        return "0.35"
    return f"{max(0.02, min(0.5, 30.0 / max_rank)):.3f}"


def assemble(panels: list[Panel], title_lines: list[str] | None = None) -> str:
    """Return the DOT source that draws ``panels`` side by side under one depth ruler.

    With one panel its heading and legend form the graph label. With several,
    ``title_lines`` and the merged legend form the graph label and each panel's
    heading labels its cluster.
    """
    level = "block" if any(panel.level == "block" for panel in panels) else "gate"
    ranks = sorted({node.rank for panel in panels for node in panel.nodes})
    graph = graphviz.Digraph("circuit")
    legend_ops = sorted({op for panel in panels for op in panel.legend_ops})
    legend = legend_rows(legend_ops)
    if len(panels) == 1:
        label = title_table(panels[0].heading + panels[0].notes, legend)
    else:
        label = title_table(list(title_lines or []), legend)
    graph.attr(
        newrank="true",
        rankdir="TB",
        labelloc="t",
        labeljust="l",
        label=label,
        fontname=FONT,
        nodesep="0.18",
        ranksep=_ranksep(ranks[-1] if ranks else 0, level),
    )
    graph.attr("node", fontname=FONT, fontsize="11", margin="0.04,0.02")
    graph.attr("edge", arrowsize="0.5", color="#555555")

    # Ruler nodes: the ordering edges added below keep them at the left of each rank.
    edge_count = sum(len(panel.edges) for panel in panels)
    weight = str(edge_count + 1)
    for rank in ranks:
        graph.node(
            f"depth_{rank}",
            label=f"depth {rank}",
            shape="plaintext",
            fontcolor="#888888",
            id=f"depth_{rank}",
            **{"class": "ruler"},
        )
    for upper, lower in pairwise(ranks):
        graph.edge(
            f"depth_{upper}",
            f"depth_{lower}",
            style="invis",
            minlen=str(lower - upper),
            weight=weight,
        )

    if len(panels) == 1:
        _add_panel(graph, panels[0])
    else:
        for number, panel in enumerate(panels):
            with graph.subgraph(name=f"cluster_{number}") as cluster:
                heading = title_table(panel.heading + panel.notes)
                cluster.attr(label=heading, color="#bbbbbb", fontname=FONT)
                _add_panel(cluster, panel)

    # Invisible edges inside a rank fix the left-to-right order: the ruler, then
    # the panels in turn, each in its nodes' ``order``. In tests with Graphviz 2.43,
    # flat edges of weight 1 kept this order and edges of weight 0 did not.
    by_rank: dict[int, list[tuple]] = {}
    for number, panel in enumerate(panels):
        for node in panel.nodes:
            by_rank.setdefault(node.rank, []).append((number, node.order, node.name))
    for rank in ranks:
        names = [f"depth_{rank}"] + [name for *_, name in sorted(by_rank[rank])]
        with graph.subgraph() as same:
            same.attr(rank="same")
            for name in names:
                same.node(name)
            for left, right in pairwise(names):
                same.edge(left, right, style="invis")
    return graph.source


def _add_panel(graph: graphviz.Digraph, panel: Panel) -> None:
    for node in panel.nodes:
        graph.node(node.name, **node.attrs)
    for edge in panel.edges:
        graph.edge(edge.tail, edge.head, **edge.attrs)
