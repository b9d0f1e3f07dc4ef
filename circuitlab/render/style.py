"""Visual style of circuit drawings: shape, colour and symbol per opcode and block kind.

Colour carries the opcode and shape groups related opcodes (ellipse: addition,
box: multiplication, hexagon and octagon: nonlinear, inverted triangle: boolean),
so a drawing printed in grey still separates the families. The legend built here
lists only the opcodes present in a drawing.
"""

from __future__ import annotations

import html
from dataclasses import dataclass

from circuitlab.circuit.ops import Op

__all__ = [
    "OpStyle",
    "OP_STYLES",
    "BLOCK_COLORS",
    "CRITICAL_COLOR",
    "CRITICAL_PENWIDTH",
    "FONT",
    "legend_rows",
    "title_table",
]

FONT = "Helvetica"

#: Outline and wire colour of the critical path (a longest input-to-output path).
CRITICAL_COLOR = "#d62728"
CRITICAL_PENWIDTH = "3"


@dataclass(frozen=True)
class OpStyle:
    """Drawing attributes of one opcode: Graphviz shape, fill colour, label symbol."""

    shape: str
    fill: str
    symbol: str


OP_STYLES: dict[Op, OpStyle] = {
    Op.INPUT: OpStyle("box", "#e6e6e6", "input"),
    Op.CONST: OpStyle("note", "#ffffff", "const"),
    Op.ADD: OpStyle("ellipse", "#cfe2ff", "+"),
    Op.SUB: OpStyle("ellipse", "#a8e0e8", "−"),
    Op.NEG: OpStyle("ellipse", "#ddd5f5", "neg"),
    Op.SUM: OpStyle("ellipse", "#8fb8f0", "Σ"),
    Op.MUL: OpStyle("box", "#ffd8a8", "×"),
    Op.RELU: OpStyle("hexagon", "#ffb0b0", "relu"),
    Op.STEP: OpStyle("octagon", "#f7c6e6", "[>0]"),
    Op.TANH: OpStyle("hexagon", "#f0e442", "tanh"),
    Op.SIGMOID: OpStyle("hexagon", "#e8d27a", "σ"),
    Op.AND: OpStyle("invtriangle", "#c7e9c0", "∧"),
    Op.OR: OpStyle("invtriangle", "#a1d99b", "∨"),
    Op.XOR: OpStyle("invtriangle", "#74c476", "⊕"),
    Op.NOT: OpStyle("invtriangle", "#e5f5e0", "¬"),
}

#: Fill colour of a block node by block kind; other kinds use ``"other"``.
BLOCK_COLORS = {
    "step": "#cfe2ff",
    "combine": "#ffd8a8",
    "apply": "#c7e9c0",
    "readout": "#ddd5f5",
    "unlabelled": "#e6e6e6",
    "other": "#f5f5f5",
}


def legend_rows(ops: list[Op]) -> str:
    """Return HTML table rows with one swatch per opcode in ``ops``."""
    cells = []
    for op in ops:
        style = OP_STYLES[op]
        name = html.escape(op.name.lower())
        cells.append(
            f'<TD BGCOLOR="{style.fill}">{html.escape(style.symbol)}</TD>'
            f'<TD ALIGN="LEFT">{name} ({style.shape})</TD>'
        )
    if not cells:
        return ""
    return '<TR><TD BORDER="0" COLSPAN="1">legend:</TD>' + "".join(cells) + "</TR>"


def title_table(lines: list[str], legend: str = "", bold_first: bool = True) -> str:
    """Return an HTML-like Graphviz label: text lines, then an optional legend row."""
    rows = []
    for number, line in enumerate(lines):
        text = html.escape(line)
        if number == 0 and bold_first:
            text = f"<B>{text}</B>"
        rows.append(f'<TR><TD ALIGN="LEFT" BORDER="0">{text}</TD></TR>')
    if legend:
        legend_table = (
            '<TABLE BORDER="0" CELLBORDER="1" CELLSPACING="0" CELLPADDING="3">'
            f"{legend}</TABLE>"
        )
        rows.append(f'<TR><TD ALIGN="LEFT" BORDER="0">{legend_table}</TD></TR>')
    return (
        '<<TABLE BORDER="0" CELLSPACING="0" CELLPADDING="1">'
        + "".join(rows)
        + "</TABLE>>"
    )
