"""circuitlab: compile recurrent networks into explicit circuit families and measure them.

The Python API mirrors the CLI:

>>> import circuitlab
>>> model = circuitlab.load_model("pd")
>>> circuit = circuitlab.compile(model, n=4, strategy="tree")
>>> stats = circuitlab.stats(circuit)
>>> stats["nonlinear_depth"]
1
>>> result = circuitlab.evaluate(circuit, model.encode(list("abab")))
>>> bool(result["accept"][0])
True
"""

from __future__ import annotations

from circuitlab.analysis.metrics import circuit_stats as stats
from circuitlab.circuit.export import to_networkx, to_sympy
from circuitlab.circuit.io import load_circuit, save_circuit
from circuitlab.circuit.ir import Circuit
from circuitlab.compile import STRATEGIES, compile_model, estimate_gates
from circuitlab.errors import (
    CircuitlabError,
    CompileError,
    EvaluationError,
    FormatError,
    ProblemError,
    SpecError,
)
from circuitlab.evaluate import evaluate
from circuitlab.models import build_model, free_model
from circuitlab.spec import load_spec, shipped_specs

__all__ = [
    "Circuit",
    "CircuitlabError",
    "CompileError",
    "EvaluationError",
    "FormatError",
    "ProblemError",
    "SpecError",
    "STRATEGIES",
    "build_model",
    "compile",
    "estimate_gates",
    "evaluate",
    "free_model",
    "load_circuit",
    "load_model",
    "load_spec",
    "render",
    "save_circuit",
    "shipped_specs",
    "stats",
    "to_networkx",
    "to_sympy",
]

__version__ = "0.1.0"


def load_model(name_or_path):
    """Load a shipped spec by name, or a spec file by path, and build its model."""
    return build_model(load_spec(name_or_path))


def compile(model, n, strategy=None, **options):
    """Compile a model object, or a shipped spec name or spec path, over n positions.

    The default strategy is tree for linear models and chain for nonlinear ones;
    see :func:`circuitlab.compile.compile_model` for the options.
    """
    if isinstance(model, str) or hasattr(model, "__fspath__"):
        model = load_model(model)
    if strategy is None:
        from circuitlab.cli.options import resolve_strategy

        strategy = resolve_strategy(model, None)
    return compile_model(model, n, strategy, **options)


def render(circuit, path, **options):
    """Draw a circuit with Graphviz; see :func:`circuitlab.render.render_circuit`."""
    from circuitlab.render import render_circuit

    return render_circuit(circuit, path, **options)
