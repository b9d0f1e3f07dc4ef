"""Gate-level drawing: one node per input and operation gate, ranked by depth.

Constants are not drawn as nodes. Each gate that reads a constant writes its value
in its own label (``× 1/2`` multiplies by 1/2, ``1 −`` subtracts from 1), so no
wires fan out of a shared constant node. A constant is drawn as a node only when it
is itself an output. Every input and every operation gate is drawn, including
inputs that no gate reads and gates that reach no output.
"""

from __future__ import annotations

from itertools import pairwise

import numpy as np

from circuitlab.circuit.ir import Circuit
from circuitlab.circuit.ops import Op
from circuitlab.rational import rational_str
from circuitlab.render.block import gate_positions
from circuitlab.render.critical import critical_path_from_inputs
from circuitlab.render.graph import DrawEdge, DrawNode, Panel
from circuitlab.render.labels import (
    count_noun,
    describe_circuit,
    format_constant,
    input_table,
    output_labels,
)
from circuitlab.render.style import CRITICAL_COLOR, CRITICAL_PENWIDTH, OP_STYLES

__all__ = ["gate_panel", "gate_label"]

#: Output names written under one node; more are counted as "+k more".
_MAX_OUTPUT_NAMES = 3

_INFIX = {Op.ADD, Op.SUB, Op.MUL, Op.AND, Op.OR, Op.XOR}


def gate_label(op: Op, operands: np.ndarray, circuit: Circuit) -> str:
    """Return a gate's label: its symbol, with the values of constant operands.

    A binary gate with one constant operand reads like an operator section:
    ``× 1/2`` for ``x * 1/2`` and ``1 −`` for ``1 - x``. Other gates list their
    constant operands after the symbol, with ``•`` for each wire.
    """
    symbol = OP_STYLES[op].symbol
    values = [circuit.const_value.get(int(node)) for node in operands]
    if all(value is None for value in values):
        return symbol
    texts = ["•" if value is None else format_constant(value) for value in values]
    if op in _INFIX and len(texts) == 2:
        if values[0] is None:
            return f"{symbol} {texts[1]}"
        if values[1] is None:
            return f"{texts[0]} {symbol}"
    return f"{symbol}({', '.join(texts)})"


def _output_suffix(names: list[str]) -> str:
    text = ", ".join(names[:_MAX_OUTPUT_NAMES])
    if len(names) > _MAX_OUTPUT_NAMES:
        text += f" +{len(names) - _MAX_OUTPUT_NAMES} more"
    return text


def gate_panel(circuit: Circuit, prefix: str = "") -> Panel:
    """Build the gate-level panel of ``circuit``; ``prefix`` keeps DOT names unique."""
    op = circuit.op
    ptr = circuit.fanin_ptr.astype(np.int64)
    fanin = circuit.fanin
    depth = circuit.depth
    block = circuit.block
    inputs = input_table(circuit)
    outputs = output_labels(circuit)
    position = gate_positions(circuit)
    heading, stats = describe_circuit(circuit)

    path = critical_path_from_inputs(circuit)
    on_path = np.zeros(circuit.num_nodes, dtype=bool)
    on_path[path] = True
    path_edges = set(pairwise(path.tolist()))

    is_const = op == Op.CONST
    drawn = ~is_const
    for node in outputs:
        drawn[node] = True
    panel = Panel(
        level="gate",
        heading=[heading, f"{stats}; gate level, {int(drawn.sum()):,} nodes"],
    )
    path_length = count_noun(max(len(path) - 1, 0), "gate")
    panel.notes.append(
        "constants are written inside the gates that read them; "
        f"red: a longest input-to-output path ({path_length})"
    )

    present_ops = set()
    for node in np.flatnonzero(drawn).tolist():
        code = Op(int(op[node]))
        style = OP_STYLES[code]
        constants: list[str] = []
        if code == Op.INPUT:
            label = inputs.label(node)
            kind = "input"
        elif code == Op.CONST:
            label = format_constant(circuit.const_value[node])
            kind = "const"
        else:
            operands = fanin[ptr[node] : ptr[node + 1]]
            label = gate_label(code, operands, circuit)
            kind = f"gate op-{code.name.lower()}"
            present_ops.add(code)
            constants = [
                rational_str(circuit.const_value[int(k)])
                for k in operands
                if int(k) in circuit.const_value
            ]
        classes = [kind]
        attrs = {
            "shape": style.shape,
            "style": "filled",
            "fillcolor": style.fill,
            "id": f"{prefix}n{node}",
        }
        tooltip = f"node {node}: {code.name.lower()}, depth {int(depth[node])}"
        if constants:
            tooltip += f", constants {', '.join(constants)}"
        if block[node] >= 0:
            tooltip += f", {circuit.blocks.describe(int(block[node]))}"
        if node in outputs:
            label = f"{label}\\n{_output_suffix(outputs[node])}"
            attrs["peripheries"] = "2"
            classes.append("output")
            tooltip += f", output {', '.join(outputs[node])}"
        if on_path[node]:
            attrs["color"] = CRITICAL_COLOR
            attrs["penwidth"] = CRITICAL_PENWIDTH
            classes.append("critical")
        attrs["label"] = label
        attrs["tooltip"] = tooltip
        attrs["class"] = " ".join(classes)
        order = (int(position[node]), int(inputs.group[node]), node)
        panel.nodes.append(DrawNode(f"{prefix}n{node}", int(depth[node]), attrs, order))

    _add_wires(panel, circuit, drawn, path_edges, prefix)
    panel.legend_ops = sorted(present_ops)
    return panel


def _add_wires(panel: Panel, circuit: Circuit, drawn, path_edges, prefix: str) -> None:
    """Add one edge per operand slot whose operand is drawn (constants are not)."""
    op = circuit.op
    ptr = circuit.fanin_ptr.astype(np.int64)
    consumer = np.repeat(np.arange(circuit.num_nodes), np.diff(ptr))
    operand = circuit.fanin.astype(np.int64)
    visible = drawn[operand] & (op[operand] != Op.CONST)
    highlighted = set()
    for slot in np.flatnonzero(visible).tolist():
        tail, head = int(operand[slot]), int(consumer[slot])
        attrs = {"id": f"{prefix}w{slot}", "class": "wire"}
        if (tail, head) in path_edges and (tail, head) not in highlighted:
            highlighted.add((tail, head))
            attrs["color"] = CRITICAL_COLOR
            attrs["penwidth"] = CRITICAL_PENWIDTH
            attrs["class"] = "wire critical"
        panel.edges.append(DrawEdge(f"{prefix}n{tail}", f"{prefix}n{head}", attrs))
