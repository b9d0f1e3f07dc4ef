"""Read connectivity instances in any of their three forms.

:func:`read_connectivity_instance` accepts a sorted-instance file, a
functional-graph file (formats in :mod:`circuitlab.problems.graph_connectivity`)
or a token stream ``0^s | ... # 0^t $`` (whitespace ignored), and returns the
graph with its query vertices. Errors name the file and the line, vertex or
token position.
"""

from __future__ import annotations

import logging
from os import PathLike
from pathlib import Path

from circuitlab.errors import FormatError, ProblemError
from circuitlab.problems.graph_connectivity import (
    STREAM_ALPHABET,
    FunctionalGraph,
    SortedInstance,
    decode_sorted_stream,
    parse_functional_graph,
    parse_sorted_instance,
)

logger = logging.getLogger(__name__)

__all__ = ["INSTANCE_FORMS", "read_connectivity_instance", "parse_connectivity_text"]

INSTANCE_FORMS = ("auto", "sorted", "functional", "stream")
"""Forms :func:`read_connectivity_instance` accepts; ``auto`` detects the form."""


def _looks_like_stream(text: str) -> bool:
    compact = "".join(text.split())
    return bool(compact) and set(compact) <= set(STREAM_ALPHABET)


def parse_connectivity_text(
    text: str, *, name: str = "<string>", form: str = "auto"
) -> tuple[FunctionalGraph | SortedInstance, int | None, int | None, str]:
    """Parse a connectivity instance; see :func:`read_connectivity_instance`."""
    if form not in INSTANCE_FORMS:
        raise ProblemError(
            f"unknown instance form {form!r}; use one of {INSTANCE_FORMS}"
        )
    if form == "stream" or (form == "auto" and _looks_like_stream(text)):
        try:
            instance = decode_sorted_stream("".join(text.split()))
        except ProblemError as error:
            raise FormatError(f"{name}: invalid stream: {error}") from None
        return instance, instance.source, instance.target, "stream"
    if form == "sorted":
        instance = parse_sorted_instance(text, name=name)
        return instance, instance.source, instance.target, "sorted"
    if form == "auto":
        try:
            instance = parse_sorted_instance(text, name=name)
        except FormatError as error:
            logger.debug(
                "%s is not a sorted instance (%s); reading a functional graph",
                name,
                error,
            )
        else:
            return instance, instance.source, instance.target, "sorted"
    graph, source, target = parse_functional_graph(text, name=name)
    return graph, source, target, "functional"


def read_connectivity_instance(
    path: str | PathLike[str], *, form: str = "auto"
) -> tuple[FunctionalGraph | SortedInstance, int | None, int | None, str]:
    """Read a sorted instance, a functional graph or a token stream.

    Parameters
    ----------
    path : str or PathLike
        The file.
    form : {"auto", "sorted", "functional", "stream"}
        The format. ``auto`` reads a file made only of the tokens ``0 | # $`` as
        a stream, then tries the sorted form and falls back to the functional
        form, which accepts any deterministic graph (edges in any order and
        direction).

    Returns
    -------
    graph : FunctionalGraph or SortedInstance
        The graph.
    source, target : int or None
        The query vertices, None where a functional-graph file omits them.
    form : str
        The form that was read.

    Raises
    ------
    FormatError
        If the file cannot be read or parsed; the message names the file and the
        line or token position.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise FormatError(f"{path}: cannot read instance file: {error}") from None
    return parse_connectivity_text(text, name=str(path), form=form)
