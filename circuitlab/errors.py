"""Exception hierarchy: one subclass of :class:`CircuitlabError` per layer.

A message names the offending value, the file, key or gate involved, and the fix.
The CLI prints ``error: <message>`` and exits with status 2 for any of these.
"""

from __future__ import annotations


class CircuitlabError(Exception):
    """Base class of every error that circuitlab raises on bad input."""


class SpecError(CircuitlabError):
    """Invalid or unsupported model specification (TOML spec file or API input)."""


class CompileError(CircuitlabError):
    """A circuit cannot be built as requested (strategy, size budget, n)."""


class EvaluationError(CircuitlabError):
    """A circuit cannot be evaluated in the requested domain or on the given input."""


class FormatError(CircuitlabError):
    """A file (saved circuit, instance, claims, .bench) cannot be read or written."""


class ProblemError(CircuitlabError):
    """A problem instance breaks the problem's format or promise."""
