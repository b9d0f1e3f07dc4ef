"""Run the Graphviz ``dot`` program and write output files atomically.

``dot`` runs in its own process group with a timeout, reading the DOT source on
stdin and writing the drawing to stdout. On timeout the whole group is killed, so a
wrapper script cannot leave a layout process behind. Files are written to a
temporary file in the target directory and moved into place with
:func:`os.replace`, so the target contains either the complete new file or what it
contained before.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

from circuitlab.circuit import io as circuit_io
from circuitlab.errors import FormatError

__all__ = [
    "INSTALL_COMMANDS",
    "find_dot",
    "install_command",
    "run_dot",
    "write_atomic",
]

logger = logging.getLogger(__name__)

#: Commands that install Graphviz, by package manager.
INSTALL_COMMANDS = {
    "apt": "sudo apt-get install graphviz",
    "brew": "brew install graphviz",
    "conda": "conda install -c conda-forge graphviz",
}


def find_dot() -> str | None:
    """Return the path of the ``dot`` program on PATH, or None when it is missing."""
    return shutil.which("dot")


def install_command() -> str:
    """Return the Graphviz install command most likely to fit this machine."""
    if os.environ.get("CONDA_PREFIX"):
        return INSTALL_COMMANDS["conda"]
    if sys.platform == "darwin":
        return INSTALL_COMMANDS["brew"]
    return INSTALL_COMMANDS["apt"]


def _kill_group(process: subprocess.Popen) -> None:
    if hasattr(os, "killpg"):
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    else:  # pragma: no cover - Windows has no process groups here
        process.kill()


def run_dot(
    source: str,
    output_format: str,
    *,
    timeout: float,
    dot: str,
    node_count: int,
    level: str,
) -> bytes:
    """Lay out ``source`` with ``dot -T<output_format>`` and return the drawing.

    Raises
    ------
    FormatError
        When dot runs longer than ``timeout`` seconds (the message suggests block
        level) or exits with an error.
    """
    command = [dot, f"-T{output_format}"]
    logger.debug("running %s on %d nodes", " ".join(command), node_count)
    process = subprocess.Popen(
        command,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        output, errors = process.communicate(source.encode("utf-8"), timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill_group(process)
        process.communicate()
        hint = (
            "draw it at block level (--level block, API level='block')"
            if level == "gate"
            else "lower the node cap (--node-cap)"
        )
        raise FormatError(
            f"dot timed out after {timeout:g} s laying out {node_count:,} nodes at "
            f"{level} level; {hint} or raise --timeout"
        ) from None
    if process.returncode != 0:
        message = errors.decode("utf-8", "replace").strip().splitlines()
        first = message[0] if message else f"exit status {process.returncode}"
        raise FormatError(f"dot failed on the generated graph: {first}")
    return output


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` completely or not at all (temporary file, rename)."""
    circuit_io.write_atomic(path, lambda temporary: Path(temporary).write_bytes(data))
