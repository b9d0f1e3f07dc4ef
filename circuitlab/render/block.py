"""Block-level drawing: one node per block (or group of blocks), ranked by depth.

A block is the set of gates that one step, combine, apply or readout produced
(``Circuit.blocks``). A block node is named by its kind and index as the block
table stores them (``step 3``, ``combine level 2, slot 7``), states its gate count
and depth range, and sits at the rank of its deepest gate. An edge joins two block
nodes when a gate of one reads a gate of the other. Edges are aggregated from all
operand slots at once with numpy, and an edge's tooltip and width give its wire
count. Gates outside every
block form one ``unlabelled gates`` node. Inputs are not drawn as nodes: each block
node lists the input groups and positions its gates read, which keeps a chain of
n steps from growing n long edges from one input node. Constants are not drawn.

When there are more blocks than the node cap, blocks are grouped. Steps and
applies are grouped by ranges of positions and combines by level and range of
slots. The range width doubles until the node count fits, then positions are
dropped (one node per kind and level), then levels, then layers. The heading
states the grouping that was applied.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from itertools import pairwise

import numpy as np

from circuitlab.circuit.ir import Circuit
from circuitlab.circuit.ops import Op
from circuitlab.render.critical import MAX_WALK_STEPS, critical_path_by_depth
from circuitlab.render.graph import DrawEdge, DrawNode, Panel
from circuitlab.render.labels import (
    count_noun,
    describe_circuit,
    input_table,
    output_display_name,
)
from circuitlab.render.style import BLOCK_COLORS, CRITICAL_COLOR, CRITICAL_PENWIDTH

__all__ = [
    "BlockTableView",
    "Grouping",
    "block_panel",
    "group_blocks",
    "gate_positions",
]

_UNLABELLED = "unlabelled"


@dataclass
class BlockTableView:
    """Per-block arrays with one extra entry (the last) for gates outside every block.

    ``position`` is the block index, or for a combine the slot it writes.
    ``level`` is the combine level, and -1 for other kinds.
    """

    kinds: list[str]
    kind: np.ndarray
    layer: np.ndarray
    level: np.ndarray
    position: np.ndarray
    gates: np.ndarray
    min_depth: np.ndarray
    max_depth: np.ndarray

    @property
    def count(self) -> int:
        return len(self.kind)


@dataclass
class Grouping:
    """Assignment of blocks to drawn nodes, and a sentence describing the grouping."""

    group_of_block: np.ndarray
    group_count: int
    description: str | None


def _block_view(circuit: Circuit, gate_block: np.ndarray, gate_depth: np.ndarray):
    table = circuit.blocks
    count = len(table) + 1
    kinds = list(table.kinds) + [_UNLABELLED]
    kind = np.append(table.kind.astype(np.int64), len(kinds) - 1)
    layer = np.append(table.layer.astype(np.int64), 0)
    index = np.append(table.index.astype(np.int64), 0)
    slot = np.append(table.slot.astype(np.int64), -1)
    combine_code = kinds.index("combine") if "combine" in kinds else -1
    is_combine = kind == combine_code
    level = np.where(is_combine, index, -1)
    position = np.where(is_combine & (slot >= 0), slot, index)
    gates = np.bincount(gate_block, minlength=count)
    min_depth = np.full(count, np.iinfo(np.int64).max, dtype=np.int64)
    max_depth = np.zeros(count, dtype=np.int64)
    np.minimum.at(min_depth, gate_block, gate_depth)
    np.maximum.at(max_depth, gate_block, gate_depth)
    return BlockTableView(
        kinds, kind, layer, level, position, gates, min_depth, max_depth
    )


def gate_positions(circuit: Circuit) -> np.ndarray:
    """Return a position per node, used to order nodes left to right.

    A gate takes the position of its block: the block index, or for a combine the
    slot it writes. Readout and unlabelled gates come after every position. An
    input x_t takes t - 1, the index of the step that reads it in a single-layer
    network, and a non-positional input takes -1.
    """
    table = circuit.blocks
    last = int(circuit.meta.get("n", 0))
    kinds = list(table.kinds)
    positional = np.array([kind != "readout" for kind in kinds] + [False], dtype=bool)
    slot_first = np.append(table.slot.astype(np.int64), -1)
    index = np.append(table.index.astype(np.int64), 0)
    kind = np.append(table.kind.astype(np.int64), len(kinds))
    combine_code = kinds.index("combine") if "combine" in kinds else -1
    block_position = np.where(
        (kind == combine_code) & (slot_first >= 0), slot_first, index
    )
    block_position = np.where(positional[kind], block_position, last)
    block_of = np.where(circuit.block < 0, len(table), circuit.block)
    position = block_position[block_of]
    inputs = input_table(circuit)
    is_input = inputs.group >= 0
    position[is_input] = inputs.position[is_input] - 1
    return position


def _key_groups(columns: list[np.ndarray], used: np.ndarray) -> tuple[np.ndarray, int]:
    """Return a group id per block (-1 for unused blocks) from integer key columns."""
    keys = np.stack([column[used] for column in columns], axis=1)
    _, inverse = np.unique(keys, axis=0, return_inverse=True)
    inverse = np.asarray(inverse).ravel()
    group = np.full(len(used), -1, dtype=np.int64)
    group[used] = inverse
    return group, int(inverse.max()) + 1 if inverse.size else 0


def group_blocks(view: BlockTableView, cap: int) -> Grouping:
    """Group the non-empty blocks into at most ``cap`` nodes where the kinds allow.

    Returns one group per block when the blocks fit. Otherwise tries, in order:
    position ranges of width 2, 4, 8, ... per (layer, kind, level); one node per
    (layer, kind, level); per (layer, kind); per kind. The first that fits wins, and
    the last is used when none fits.
    """
    used = view.gates > 0
    used_count = int(used.sum())
    identity = np.full(view.count, -1, dtype=np.int64)
    identity[used] = np.arange(used_count)
    if used_count <= cap:
        return Grouping(identity, used_count, None)

    zeros = np.zeros(view.count, dtype=np.int64)
    span = int(view.position[used].max()) + 1 if used_count else 1
    width = 2
    candidates = []
    while width < span:
        columns = [view.layer, view.kind, view.level, view.position // width]
        candidates.append((columns, f"ranges of {width} positions or slots"))
        width *= 2
    candidates.append(
        ([view.layer, view.kind, view.level, zeros], "one node per kind and level")
    )
    candidates.append(([view.layer, view.kind, zeros, zeros], "one node per kind"))
    candidates.append(
        ([zeros, view.kind, zeros, zeros], "one node per kind, all layers")
    )
    for candidate in candidates:
        group, count = _key_groups(candidate[0], used)
        rule = candidate[1]
        if count <= cap:
            break
    description = (
        f"{used_count:,} blocks exceed the node cap {cap}, so they are grouped into "
        f"{count:,} nodes: steps and applies by position, combines by level and slot, "
        f"{rule}"
    )
    return Grouping(group, count, description)


def _range_text(low: int, high: int) -> str:
    return str(low) if low == high else f"{low}..{high}"


def _group_title(view: BlockTableView, members: np.ndarray, show_layer: bool) -> str:
    """Return the first label line of a node, e.g. ``combine level 2, slots 0..7``."""
    kinds = {view.kinds[k] for k in view.kind[members].tolist()}
    kind = kinds.pop() if len(kinds) == 1 else "mixed"
    positions = view.position[members]
    low, high = int(positions.min()), int(positions.max())
    plural = len(members) > 1
    if kind == "combine":
        levels = view.level[members]
        level_text = _range_text(int(levels.min()), int(levels.max()))
        noun = "levels" if levels.min() != levels.max() else "level"
        slot_noun = "slots" if low != high else "slot"
        title = f"combine {noun} {level_text}, {slot_noun} {_range_text(low, high)}"
    elif kind == _UNLABELLED:
        title = "unlabelled gates"
    elif kind == "readout" and not plural:
        title = kind
    else:
        title = f"{kind} {_range_text(low, high)}"
    if plural:
        title += f" ({len(members)} blocks)"
    layers = view.layer[members]
    if show_layer and layers.max() > 0:
        title = f"layer {_range_text(int(layers.min()), int(layers.max()))} {title}"
    return title


def block_panel(circuit: Circuit, cap: int, prefix: str = "") -> Panel:
    """Build the block-level panel of ``circuit`` with at most ``cap`` block nodes."""
    op = circuit.op
    is_gate = (op != Op.INPUT) & (op != Op.CONST)
    pseudo = len(circuit.blocks)
    block_of = np.where(circuit.block < 0, pseudo, circuit.block).astype(np.int64)
    gate_ids = np.flatnonzero(is_gate)
    view = _block_view(
        circuit, block_of[gate_ids], circuit.depth[gate_ids].astype(np.int64)
    )
    grouping = group_blocks(view, cap)
    groups = grouping.group_count
    node_group = np.full(circuit.num_nodes, -1, dtype=np.int64)
    node_group[gate_ids] = grouping.group_of_block[block_of[gate_ids]]

    heading, stats = describe_circuit(circuit)
    panel = Panel(
        level="block", heading=[heading, f"{stats}; block level, {groups:,} nodes"]
    )
    if grouping.description:
        panel.notes.append(grouping.description)
        panel.grouping = grouping.description
    empty = int(((view.gates == 0) & (np.arange(view.count) < pseudo)).sum())
    notes = "inputs are listed in the blocks that read them; constants are not drawn"
    if empty:
        notes += f"; {empty} blocks without gates are not drawn"
    panel.notes.append(notes)

    # Per-group statistics from the per-block ones.
    grouped = np.flatnonzero(grouping.group_of_block >= 0)
    order = grouped[np.argsort(grouping.group_of_block[grouped], kind="stable")]
    sizes = np.bincount(grouping.group_of_block[grouped], minlength=groups)
    members_of = np.split(order, np.cumsum(sizes)[:-1])
    group_gates = np.zeros(groups, dtype=np.int64)
    np.add.at(
        group_gates, grouping.group_of_block[view.gates > 0], view.gates[view.gates > 0]
    )
    reads = _input_reads(circuit, node_group, groups)
    outputs = _output_counts(circuit, node_group)
    critical_nodes, critical_links, path_note = _critical_groups(circuit, node_group)
    panel.notes.append(path_note)
    show_layer = bool((view.layer > 0).any())

    for group in range(groups):
        members = members_of[group]
        low = int(view.min_depth[members].min())
        high = int(view.max_depth[members].max())
        gate_count = count_noun(int(group_gates[group]), "gate")
        lines = [
            _group_title(view, members, show_layer),
            f"{gate_count}, depth {_range_text(low, high)}",
        ]
        if group in reads:
            lines.append("reads " + ", ".join(reads[group]))
        if group in outputs:
            lines.append("outputs " + ", ".join(outputs[group]))
        kinds = {view.kinds[k] for k in view.kind[members].tolist()}
        kind = kinds.pop() if len(kinds) == 1 else "other"
        classes = ["block", f"kind-{kind}"]
        attrs = {
            "shape": "box",
            "style": "rounded,filled",
            "fillcolor": BLOCK_COLORS.get(kind, BLOCK_COLORS["other"]),
            "id": f"{prefix}b{group}",
            "label": "\\n".join(lines),
            "tooltip": f"{count_noun(len(members), 'block')}, "
            f"{count_noun(int(group_gates[group]), 'gate')}",
        }
        if group in outputs:
            attrs["peripheries"] = "2"
            classes.append("output")
        if group in critical_nodes:
            attrs["color"] = CRITICAL_COLOR
            attrs["penwidth"] = CRITICAL_PENWIDTH
            classes.append("critical")
        attrs["class"] = " ".join(classes)
        # NOTE: a block whose deepest gate is deeper than the deepest gate of a
        # block that reads it gets an upward edge, which dot draws reversed.
        order = (int(view.layer[members].min()), int(view.position[members].min()))
        panel.nodes.append(DrawNode(f"{prefix}b{group}", high, attrs, order))

    _add_links(panel, circuit, node_group, groups, critical_links, prefix)
    return panel


def _operand_pairs(circuit: Circuit) -> tuple[np.ndarray, np.ndarray]:
    """Return (operand, consumer) node ids for every operand slot."""
    consumer = np.repeat(
        np.arange(circuit.num_nodes, dtype=np.int64),
        np.diff(circuit.fanin_ptr.astype(np.int64)),
    )
    return circuit.fanin.astype(np.int64), consumer


def _add_links(panel, circuit, node_group, groups, critical_links, prefix) -> None:
    operand, consumer = _operand_pairs(circuit)
    tail = node_group[operand]
    head = node_group[consumer]
    keep = (tail >= 0) & (head >= 0) & (tail != head)
    pairs, counts = np.unique(tail[keep] * groups + head[keep], return_counts=True)
    for number, (pair, count) in enumerate(
        zip(pairs.tolist(), counts.tolist(), strict=True)
    ):
        source, target = divmod(pair, groups)
        attrs = {
            "id": f"{prefix}l{number}",
            "class": "link",
            "tooltip": f"{count:,} wires",
            "penwidth": f"{1 + min(3.0, math.log2(count) / 3):.2f}",
        }
        if (source, target) in critical_links:
            attrs["color"] = CRITICAL_COLOR
            attrs["class"] = "link critical"
        panel.edges.append(DrawEdge(f"{prefix}b{source}", f"{prefix}b{target}", attrs))


def _input_reads(
    circuit: Circuit, node_group: np.ndarray, groups: int
) -> dict[int, list[str]]:
    """Return per node group the inputs its gates read, such as ``x_1..x_16``."""
    table = input_table(circuit)
    operand, consumer = _operand_pairs(circuit)
    is_input = table.group[operand] >= 0
    reader = node_group[consumer[is_input]]
    source = table.group[operand[is_input]]
    position = table.position[operand[is_input]]
    keep = reader >= 0
    reader, source, position = reader[keep], source[keep], position[keep]
    width = max(len(table.names), 1)
    key = reader * width + source
    cells = groups * width
    low = np.full(cells, np.iinfo(np.int64).max, dtype=np.int64)
    high = np.full(cells, -1, dtype=np.int64)
    np.minimum.at(low, key, position)
    np.maximum.at(high, key, position)
    reads: dict[int, list[str]] = {}
    for cell in np.flatnonzero(high >= 0).tolist():
        group, number = divmod(cell, width)
        name = table.names[number]
        if table.positional[number]:
            text = f"{name}_{_range_text(int(low[cell]), int(high[cell]))}"
        else:
            text = name
        reads.setdefault(group, []).append(text)
    return reads


def _output_counts(circuit: Circuit, node_group: np.ndarray) -> dict[int, list[str]]:
    """Return per node group its output names with counts, such as ``h (5)``."""
    counts: dict[int, list[str]] = {}
    for name, ids in circuit.outputs.items():
        groups = node_group[np.asarray(ids).ravel()]
        values, sizes = np.unique(groups[groups >= 0], return_counts=True)
        display = output_display_name(name)
        for group, size in zip(values.tolist(), sizes.tolist(), strict=True):
            counts.setdefault(group, []).append(
                display if size == 1 else f"{display} ({size})"
            )
    return counts


def _critical_groups(circuit: Circuit, node_group: np.ndarray):
    """Return the node groups and links along one longest path, and a note on it."""
    path = critical_path_by_depth(circuit)
    if path is None:
        return (
            set(),
            set(),
            (f"no critical path drawn: depth above {MAX_WALK_STEPS:,} gates"),
        )
    groups = node_group[path]
    groups = groups[groups >= 0]
    if groups.size:
        change = np.concatenate([[True], groups[1:] != groups[:-1]])
        groups = groups[change]
    links = set(pairwise(groups.tolist()))
    note = (
        f"red: blocks on a longest path ({count_noun(max(len(path) - 1, 0), 'gate')})"
    )
    return set(groups.tolist()), links, note
