"""Public drawing API: DOT source, rendered files, side-by-side comparisons, Jupyter.

Level ``"auto"`` draws every gate when the circuits have at most ``node_cap`` gates
in total and draws blocks otherwise. The result, the log and the drawing's heading
state which level was used and why. Output formats are svg, png and pdf (laid out
by the Graphviz ``dot`` program) and dot (the source, written without Graphviz).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from circuitlab.circuit.ir import Circuit
from circuitlab.errors import CircuitlabError, FormatError
from circuitlab.render import runner
from circuitlab.render.block import block_panel
from circuitlab.render.gate import gate_panel
from circuitlab.render.graph import Panel, assemble
from circuitlab.render.runner import (
    INSTALL_COMMANDS,
    install_command,
    run_dot,
    write_atomic,
)

__all__ = [
    "LEVELS",
    "FORMATS",
    "DEFAULT_NODE_CAP",
    "DEFAULT_TIMEOUT",
    "RenderResult",
    "output_format",
    "to_dot",
    "comparison_to_dot",
    "render_circuit",
    "render_comparison",
    "circuit_svg",
    "repr_svg",
    "install",
]

logger = logging.getLogger(__name__)

LEVELS = ("auto", "gate", "block")
FORMATS = ("svg", "png", "pdf", "dot")

#: Largest gate count drawn at gate level by ``level="auto"``, and the largest
#: number of block nodes per drawing before blocks are grouped.
DEFAULT_NODE_CAP = 400

#: Seconds ``dot`` may run before it is stopped.
DEFAULT_TIMEOUT = 60.0

#: Largest circuit (nodes) that Jupyter display draws; larger ones show as text,
#: because display runs implicitly and block grouping reads every operand.
#: NOTE: a guessed bound. A 7.8 million gate PD tree took about 3 s to group on a
#: 2-core machine, and nobody has timed the display path at this size.
REPR_MAX_NODES = 2_000_000

#: Seconds ``dot`` may run for a Jupyter display.
REPR_TIMEOUT = 20.0

_SUFFIX_FORMATS = {
    ".svg": "svg",
    ".png": "png",
    ".pdf": "pdf",
    ".dot": "dot",
    ".gv": "dot",
}


@dataclass
class RenderResult:
    """Outcome of :func:`render_circuit`: the file written and what it shows.

    Attributes
    ----------
    path : Path
        The file written: the drawing, or the DOT source when ``dot`` is missing.
    format : str
        Format of ``path``: svg, png, pdf or dot.
    level : str
        Level drawn: ``"gate"`` or ``"block"``.
    nodes, edges : int
        Circuit nodes and edges drawn (gates and inputs, or block nodes), without
        the depth ruler.
    notes : list of str
        Sentences for the user: automatic level choice, grouping of blocks, a
        missing ``dot`` program.
    dot_missing : bool
        True when ``dot`` was not found and only the DOT source was written.
    install_command : str or None
        A command that installs Graphviz, set when ``dot_missing``.
    """

    path: Path
    format: str
    level: str
    nodes: int
    edges: int
    notes: list[str] = field(default_factory=list)
    dot_missing: bool = False
    install_command: str | None = None


@dataclass
class _Drawing:
    source: str
    level: str
    nodes: int
    edges: int
    notes: list[str]


def output_format(path: str | os.PathLike, format: str | None = None) -> str:
    """Return the output format: ``format`` if given, else the one the suffix names.

    A path without a suffix defaults to svg.
    """
    suffix = Path(path).suffix.lower()
    if format is not None:
        if format not in FORMATS:
            raise FormatError(
                f"unknown output format {format!r}; use one of {', '.join(FORMATS)}"
            )
        if suffix in _SUFFIX_FORMATS and _SUFFIX_FORMATS[suffix] != format:
            raise FormatError(
                f"--format {format} does not match the suffix of {os.fspath(path)!r}; "
                f"name the file .{format} or drop --format"
            )
        return format
    if not suffix:
        return "svg"
    if suffix not in _SUFFIX_FORMATS:
        raise FormatError(
            f"cannot infer the output format of {os.fspath(path)!r} from its suffix "
            f"{suffix!r}; name the file .svg, .png, .pdf or .dot, or pass "
            "--format (API: format=)"
        )
    return _SUFFIX_FORMATS[suffix]


def _check_options(circuits: Sequence[Circuit], level: str, node_cap, timeout) -> None:
    for circuit in circuits:
        if not isinstance(circuit, Circuit):
            raise FormatError(
                f"expected a circuitlab Circuit to draw, got {type(circuit).__name__}"
            )
    if level not in LEVELS:
        raise FormatError(
            f"unknown drawing level {level!r}; use one of {', '.join(LEVELS)}"
        )
    if isinstance(node_cap, bool) or not isinstance(node_cap, int) or node_cap < 1:
        raise FormatError(f"node cap must be a positive integer, got {node_cap!r}")
    if timeout is not None and not timeout > 0:
        raise FormatError(
            f"timeout must be a positive number of seconds, got {timeout!r}"
        )


#: Largest circuit drawn at gate level on request: building the DOT text takes
#: about 1.4 GB at 243,000 gates, so larger requests are rejected.
MAX_GATE_LEVEL_GATES = 50_000


def _choose_level(circuits: Sequence[Circuit], level: str, node_cap: int):
    """Return the level to draw and a sentence explaining an automatic or forced one."""
    gates = sum(circuit.num_gates for circuit in circuits)
    if level == "auto":
        if gates <= node_cap:
            return "gate", None
        reason = (
            f"drawn at block level: {gates:,} gates exceed the node cap {node_cap} "
            "(--node-cap); use --level gate to draw every gate"
        )
        return "block", reason
    if level == "gate" and gates > MAX_GATE_LEVEL_GATES:
        raise FormatError(
            f"gate level requested for {gates:,} gates, above the limit of "
            f"{MAX_GATE_LEVEL_GATES:,} that a gate-level drawing can lay out; "
            "use --level block, or a smaller n"
        )
    if level == "gate" and gates > node_cap:
        reason = (
            f"gate level requested for {gates:,} gates, above the node cap {node_cap}; "
            "layout may be slow"
        )
        return "gate", reason
    return level, None


def _draw(
    circuits: Sequence[Circuit],
    level: str,
    node_cap: int,
    title: str | None,
    panel_titles: Sequence[str] | None = None,
) -> _Drawing:
    chosen, reason = _choose_level(circuits, level, node_cap)
    if reason:
        # A forced gate level above the cap may make dot slow. The auto switch is
        # routine.
        log = logger.warning if level == "gate" else logger.info
        log("%s", reason)
    panels: list[Panel] = []
    for number, circuit in enumerate(circuits):
        prefix = "" if len(circuits) == 1 else f"p{number}_"
        if chosen == "gate":
            panel = gate_panel(circuit, prefix)
        else:
            panel = block_panel(circuit, max(node_cap // len(circuits), 1), prefix)
        if panel_titles is not None:
            panel.heading.insert(0, panel_titles[number])
        panels.append(panel)
    notes = [reason] if reason else []
    for panel in panels:
        if panel.grouping:
            logger.info("%s", panel.grouping)
            notes.append(panel.grouping)
    if len(panels) == 1:
        if title:
            panels[0].heading.insert(0, title)
        if reason:
            panels[0].notes.insert(0, reason)
        title_lines = None
    else:
        ns = sorted({circuit.meta.get("n") for circuit in circuits}, key=str)
        n_text = f"n = {ns[0]}" if len(ns) == 1 else "n = " + " vs ".join(map(str, ns))
        default = (
            f"comparison at {n_text}: {chosen} level, one depth scale for all panels"
        )
        title_lines = [title or default]
        if title:
            title_lines.append(default)
        if reason:
            title_lines.append(reason)
    source = assemble(panels, title_lines)
    return _Drawing(
        source=source,
        level=chosen,
        nodes=sum(len(panel.nodes) for panel in panels),
        edges=sum(len(panel.edges) for panel in panels),
        notes=notes,
    )


def to_dot(
    circuit: Circuit,
    level: str = "auto",
    *,
    node_cap: int = DEFAULT_NODE_CAP,
    title: str | None = None,
) -> str:
    """Return the DOT source that draws ``circuit``.

    Parameters
    ----------
    circuit : Circuit
        The circuit to draw.
    level : {"auto", "gate", "block"}
        ``"auto"`` draws gates when there are at most ``node_cap`` of them.
    node_cap : int
        Gate count above which ``"auto"`` draws blocks, and block count above which
        blocks are grouped.
    title : str, optional
        A first heading line above the model, strategy and statistics lines.
    """
    _check_options([circuit], level, node_cap, None)
    return _draw([circuit], level, node_cap, title).source


def comparison_to_dot(
    circuits: Sequence[Circuit],
    level: str = "auto",
    *,
    node_cap: int = DEFAULT_NODE_CAP,
    title: str | None = None,
    panel_titles: Sequence[str] | None = None,
) -> str:
    """Return the DOT source that draws ``circuits`` side by side on one depth scale.

    Every circuit is drawn at the same level; ``"auto"`` compares the total gate
    count with ``node_cap``. See :func:`to_dot` for the other parameters.
    """
    circuits = _check_panels(circuits, panel_titles)
    _check_options(circuits, level, node_cap, None)
    return _draw(circuits, level, node_cap, title, panel_titles).source


def _check_panels(circuits, panel_titles) -> list[Circuit]:
    circuits = list(circuits)
    if len(circuits) < 2:
        raise FormatError(
            f"a comparison needs at least two circuits, got {len(circuits)}"
        )
    if panel_titles is not None and len(panel_titles) != len(circuits):
        raise FormatError(
            f"got {len(panel_titles)} panel titles for {len(circuits)} circuits; "
            "give one per circuit"
        )
    return circuits


def render_circuit(
    circuit: Circuit,
    path: str | os.PathLike,
    *,
    level: str = "auto",
    format: str | None = None,
    node_cap: int = DEFAULT_NODE_CAP,
    timeout: float = DEFAULT_TIMEOUT,
    title: str | None = None,
) -> RenderResult:
    """Draw ``circuit`` to ``path`` as svg, png, pdf or dot.

    Parameters
    ----------
    circuit : Circuit
        The circuit to draw.
    path : str or PathLike
        Output file. It is written completely or left as it was.
    level : {"auto", "gate", "block"}
        See :func:`to_dot`.
    format : {"svg", "png", "pdf", "dot"}, optional
        Output format; by default inferred from the suffix of ``path``.
    node_cap : int
        See :func:`to_dot`.
    timeout : float
        Seconds ``dot`` may run before it is stopped.
    title : str, optional
        A first heading line.

    Returns
    -------
    RenderResult
        When ``dot`` is not on PATH, only the DOT source is written (next to
        ``path``, suffix .dot) and the result carries an install command.

    Raises
    ------
    FormatError
        For an unknown level or format, an invalid node cap or timeout, a ``dot``
        timeout or failure, or an unwritable path.
    """
    _check_options([circuit], level, node_cap, timeout)
    chosen_format = output_format(path, format)
    drawing = _draw([circuit], level, node_cap, title)
    return _write(drawing, Path(path), chosen_format, timeout)


def render_comparison(
    circuits: Sequence[Circuit],
    path: str | os.PathLike,
    *,
    level: str = "auto",
    format: str | None = None,
    node_cap: int = DEFAULT_NODE_CAP,
    timeout: float = DEFAULT_TIMEOUT,
    title: str | None = None,
    panel_titles: Sequence[str] | None = None,
) -> RenderResult:
    """Draw ``circuits`` side by side on one depth scale; see :func:`render_circuit`."""
    circuits = _check_panels(circuits, panel_titles)
    _check_options(circuits, level, node_cap, timeout)
    chosen_format = output_format(path, format)
    drawing = _draw(circuits, level, node_cap, title, panel_titles)
    return _write(drawing, Path(path), chosen_format, timeout)


def _write(
    drawing: _Drawing, path: Path, chosen_format: str, timeout: float
) -> RenderResult:
    result = RenderResult(
        path=path,
        format=chosen_format,
        level=drawing.level,
        nodes=drawing.nodes,
        edges=drawing.edges,
        notes=list(drawing.notes),
    )
    if chosen_format == "dot":
        write_atomic(path, drawing.source.encode("utf-8"))
        return result
    dot = runner.find_dot()
    if dot is None:
        dot_path = path.with_suffix(".dot")
        write_atomic(dot_path, drawing.source.encode("utf-8"))
        choices = ", ".join(INSTALL_COMMANDS.values())
        note = (
            "Graphviz dot was not found on PATH, so only the DOT source was "
            f"written to {dot_path}; install Graphviz ({choices}) and run: "
            f"dot -T{chosen_format} {dot_path} -o {path}"
        )
        logger.warning("%s", note)
        result.path = dot_path
        result.format = "dot"
        result.notes.append(note)
        result.dot_missing = True
        result.install_command = install_command()
        return result
    data = run_dot(
        drawing.source,
        chosen_format,
        timeout=timeout,
        dot=dot,
        node_count=drawing.nodes,
        level=drawing.level,
    )
    write_atomic(path, data)
    logger.info("wrote %s (%s, %s level)", path, chosen_format, drawing.level)
    return result


def circuit_svg(
    circuit: Circuit,
    *,
    level: str = "auto",
    node_cap: int = DEFAULT_NODE_CAP,
    timeout: float = DEFAULT_TIMEOUT,
) -> str:
    """Return the SVG drawing of ``circuit`` as text.

    Raises
    ------
    FormatError
        When ``dot`` is missing, times out or fails.
    """
    _check_options([circuit], level, node_cap, timeout)
    dot = runner.find_dot()
    if dot is None:
        raise FormatError(
            "Graphviz dot was not found on PATH; install Graphviz "
            f"({install_command()}) to draw circuits as SVG"
        )
    drawing = _draw([circuit], level, node_cap, None)
    data = run_dot(
        drawing.source,
        "svg",
        timeout=timeout,
        dot=dot,
        node_count=drawing.nodes,
        level=drawing.level,
    )
    return data.decode("utf-8")


def repr_svg(circuit: Circuit) -> str | None:
    """Return an SVG drawing for Jupyter, or None to fall back to the text display.

    Draws gates up to :data:`DEFAULT_NODE_CAP` gates and blocks above. Returns None
    without ``dot``, above :data:`REPR_MAX_NODES` nodes, or when drawing fails (the
    failure is logged).
    """
    if circuit.num_nodes > REPR_MAX_NODES or runner.find_dot() is None:
        return None
    try:
        return circuit_svg(circuit, timeout=REPR_TIMEOUT)
    except CircuitlabError as error:
        logger.warning("no SVG display for the circuit: %s", error)
        return None


def _render_method(self: Circuit, path: str | os.PathLike, **options) -> RenderResult:
    """Draw this circuit to ``path``; see :func:`circuitlab.render.render_circuit`."""
    return render_circuit(self, path, **options)


def install(circuit_class: type) -> None:
    """Attach ``render(path, **options)`` and ``_repr_svg_()`` to ``circuit_class``."""
    circuit_class.render = _render_method
    circuit_class._repr_svg_ = repr_svg
