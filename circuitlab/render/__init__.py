"""Circuit diagrams: gate-level and block-level Graphviz drawings of circuits.

Gate level draws every input and gate, ranked by depth, with opcode shapes and
colours, constants written inside the gates that read them and a longest
input-to-output path in red. Block level draws one node per step, combine, apply
or readout block (grouped when there are more than the node cap) and works for any
circuit size. :func:`render_comparison` draws two circuits side by side on one
depth scale.

Attach the drawing methods to :class:`~circuitlab.circuit.ir.Circuit` with
``install(Circuit)``, or define ``Circuit.render`` and ``Circuit._repr_svg_`` to
call :func:`render_circuit` and :func:`repr_svg`.
"""

from circuitlab.render.api import (
    DEFAULT_NODE_CAP,
    DEFAULT_TIMEOUT,
    FORMATS,
    LEVELS,
    RenderResult,
    circuit_svg,
    comparison_to_dot,
    install,
    output_format,
    render_circuit,
    render_comparison,
    repr_svg,
    to_dot,
)
from circuitlab.render.runner import find_dot, install_command

__all__ = [
    "DEFAULT_NODE_CAP",
    "DEFAULT_TIMEOUT",
    "FORMATS",
    "LEVELS",
    "RenderResult",
    "circuit_svg",
    "comparison_to_dot",
    "find_dot",
    "install",
    "install_command",
    "output_format",
    "render_circuit",
    "render_comparison",
    "repr_svg",
    "to_dot",
]
