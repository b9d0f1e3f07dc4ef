"""Human-readable names of circuit nodes: inputs x_t[i], outputs h_t[i], constants.

Positions t are 1-based, as in the model docs (a model reads x_1..x_n and produces
h_1..h_n), and coordinates i are 0-based numpy indices. An input group is
positional when it has at least two axes and its first axis has length
``circuit.meta["n"]``. Its first index is then the position t. The output group
``state`` is drawn as ``h``. With ``outputs="final"`` it contains only h_n, and with
``outputs="all"`` it contains h_1..h_n, so its row r is position
``n - rows + r + 1``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from circuitlab.circuit.ir import Circuit
from circuitlab.rational import rational_str

__all__ = [
    "InputTable",
    "input_table",
    "output_labels",
    "output_display_name",
    "count_noun",
    "format_constant",
    "describe_circuit",
]

#: Maximum length of a constant written inside a gate label. Longer values are
#: shortened with "…" there, and the gate's tooltip lists them in full.
MAX_CONSTANT_CHARS = 9


@dataclass
class InputTable:
    """Per-node input data: group, 1-based position (0: none), index in the group."""

    group: np.ndarray
    position: np.ndarray
    flat_index: np.ndarray
    names: list[str]
    shapes: list[tuple[int, ...]]
    positional: list[bool]

    def label(self, node: int) -> str:
        """Return the label of one input node, such as ``x_3[1]`` or ``h0[0]``."""
        number = int(self.group[node])
        name = self.names[number]
        shape = self.shapes[number]
        if not shape:
            return name
        where = np.unravel_index(int(self.flat_index[node]), shape)
        if self.positional[number]:
            coordinate = ",".join(str(int(i)) for i in where[1:])
            return f"{name}_{int(where[0]) + 1}[{coordinate}]"
        return f"{name}[{','.join(str(int(i)) for i in where)}]"


def input_table(circuit: Circuit) -> InputTable:
    """Return the input group and position of every node (-1 and 0 for non-inputs)."""
    count = circuit.num_nodes
    group = np.full(count, -1, dtype=np.int64)
    position = np.zeros(count, dtype=np.int64)
    flat_index = np.zeros(count, dtype=np.int64)
    names = list(circuit.inputs)
    shapes = []
    positional = []
    n = circuit.meta.get("n")
    for number, name in enumerate(names):
        ids = np.asarray(circuit.inputs[name])
        group[ids.ravel()] = number
        flat_index[ids.ravel()] = np.arange(ids.size)
        shapes.append(ids.shape)
        is_positional = ids.ndim >= 2 and n is not None and ids.shape[0] == n
        positional.append(is_positional)
        if is_positional:
            rows = np.broadcast_to(
                np.arange(1, ids.shape[0] + 1).reshape((-1,) + (1,) * (ids.ndim - 1)),
                ids.shape,
            )
            position[ids.ravel()] = rows.ravel()
    return InputTable(group, position, flat_index, names, shapes, positional)


def output_display_name(name: str) -> str:
    """Return the drawn name of an output group (``state`` is drawn as ``h``)."""
    return "h" if name == "state" else name


def output_labels(circuit: Circuit) -> dict[int, list[str]]:
    """Return the output names of every output node, such as ``["h_8[0]"]``."""
    labels: dict[int, list[str]] = {}
    n = circuit.meta.get("n")
    for name, ids in circuit.outputs.items():
        ids = np.asarray(ids)
        display = output_display_name(name)
        for where, node in np.ndenumerate(ids):
            if name == "state" and ids.ndim == 2 and n is not None:
                t = n - ids.shape[0] + where[0] + 1
                text = f"{display}_{t}[{where[1]}]"
            elif ids.size == 1:
                text = display
            else:
                text = f"{display}[{','.join(str(i) for i in where)}]"
            labels.setdefault(int(node), []).append(text)
    return labels


def count_noun(count: int, noun: str) -> str:
    """Return a count with a singular or plural noun: ``1 gate``, ``1,024 gates``."""
    return f"{count:,} {noun}" if count == 1 else f"{count:,} {noun}s"


def format_constant(value: object) -> str:
    """Format an exact constant compactly, shortening long values with "…"."""
    text = rational_str(value)
    if len(text) > MAX_CONSTANT_CHARS:
        text = text[: MAX_CONSTANT_CHARS - 1] + "…"
    return text


def describe_circuit(circuit: Circuit) -> tuple[str, str]:
    """Return a heading (model, strategy, n) and a statistics line (size, depth)."""
    meta = circuit.meta
    model = meta.get("model", "circuit")
    parts = []
    if "strategy" in meta:
        parts.append(f"strategy {meta['strategy']}")
    if "n" in meta:
        parts.append(f"n = {meta['n']}")
    if meta.get("state_dim"):
        parts.append(f"D = {meta['state_dim']}")
    if meta.get("outputs") == "all":
        parts.append("all prefix states")
    heading = f"{model}: {', '.join(parts)}" if parts else str(model)
    outputs = circuit.output_ids()
    nonlinear = int(circuit.nonlinear_depth[outputs].max()) if outputs.size else 0
    stats = (
        f"size {count_noun(circuit.num_gates, 'gate')}, depth {circuit.max_depth()}, "
        f"nonlinear depth {nonlinear}"
    )
    return heading, stats
