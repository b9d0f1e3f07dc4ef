"""Check a construction exactly against its problem's reference solver.

:func:`verify_construction` runs one construction on every instance up to a size
and on random instances, compares each answer with the reference solver
(networkx reachability, or boolean circuit evaluation), and measures the largest
state precision in bits and the depth of the compiled circuit at the largest size.

How each construction is run
----------------------------
- ``graph-connectivity``: the ``connectivity-counter`` spec on the stream of
  :func:`~circuitlab.constructions.counter_rnn.connectivity_stream` (layered
  reduction for functional graphs, the target's out-edge dropped for sorted
  instances), all streams at once with
  :class:`~circuitlab.constructions.evaluation.IntegerBatchMlp`.
- ``cvp-stack``: the ``cvp-stack`` spec on the padded CVP stream, one stream at a
  time with :class:`~circuitlab.constructions.evaluation.SparseMlp`.
- ``cvp-relu``: the ReLU circuit of :func:`~circuitlab.constructions.relu_cvp.
  relu_circuit`, evaluated over Q.

Both fast runners are exact, and each verification also runs a few instances
through the spec's reference semantics (``reference_states``) and through the
compiled chain circuit evaluated over Q, and requires the same final state.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from circuitlab.constructions.counter_rnn import (
    COUNTER_SPEC_NAME,
    connectivity_counter_spec,
)
from circuitlab.constructions.evaluation import IntegerBatchMlp, SparseMlp
from circuitlab.constructions.instances import (
    all_cvp_programs,
    exhaustive_connectivity,
    random_connectivity,
    random_cvp_instance,
)
from circuitlab.constructions.relu_cvp import program_to_circuit, relu_circuit
from circuitlab.constructions.stack_rnn import STACK_SPEC_NAME, cvp_stack_spec
from circuitlab.errors import ProblemError
from circuitlab.problems.circuit_value import (
    cvp_padding_length,
    cvp_program_bits,
    encode_cvp_stream,
    evaluate_circuit,
    evaluate_cvp_program,
    to_monotone,
)
from circuitlab.problems.graph_connectivity import SortedInstance
from circuitlab.rational import bit_size

logger = logging.getLogger(__name__)

__all__ = [
    "CONSTRUCTION_NAMES",
    "VerifyDefaults",
    "DEFAULTS",
    "VerifyReport",
    "verify_construction",
    "construction_spec",
    "cvp_stream",
]

CONSTRUCTION_NAMES = ("graph-connectivity", "cvp-stack", "cvp-relu")
"""Constructions that :func:`verify_construction` checks."""

Progress = Callable[[str, int, int], None]

_CROSS_CHECK_TOKENS = 400
"""Longest stream that a cross-check compiles and evaluates over Q."""


@dataclass(frozen=True)
class VerifyDefaults:
    """Default workload of one construction's verification."""

    exhaustive_max: int
    random_count: int
    size_range: tuple[int, int]


DEFAULTS = {
    "graph-connectivity": VerifyDefaults(5, 100, (101, 300)),
    "cvp-stack": VerifyDefaults(3, 20, (8, 32)),
    "cvp-relu": VerifyDefaults(4, 100, (8, 512)),
}
"""Per construction: sizes are vertices (connectivity), program instructions
(exhaustive CVP) and gates (random CVP)."""


@dataclass
class VerifyReport:
    """Outcome of :func:`verify_construction`.

    Attributes
    ----------
    construction : str
        Construction name.
    exhaustive, random : int
        Instances checked from the exhaustive set and drawn at random.
    correct : int
        Instances whose answer equals the reference solver's.
    max_bits : int
        Largest :func:`~circuitlab.rational.bit_size` of a state value (a gate
        value for ``cvp-relu``) over every run.
    largest_size : int
        Size of the largest instance checked (vertices or gates).
    largest_length : int
        Tokens of its stream (``cvp-relu``: gates of its boolean circuit).
    depth, nonlinear_depth, circuit_size : int
        Depth, nonlinear depth and gates of the compiled circuit at the largest
        instance (:func:`~circuitlab.analysis.metrics.circuit_stats`).
    cross_checked : int
        Instances also run through ``reference_states`` and the compiled circuit
        over Q (for ``cvp-relu``, evaluated by the circuit itself).
    failures : list[str]
        The first few disagreements, described.
    seconds : float
        Wall time.
    """

    construction: str
    exhaustive: int = 0
    random: int = 0
    correct: int = 0
    max_bits: int = 0
    largest_size: int = 0
    largest_length: int = 0
    depth: int | None = None
    nonlinear_depth: int | None = None
    circuit_size: int | None = None
    cross_checked: int = 0
    failures: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def checked(self) -> int:
        """Instances checked in all."""
        return self.exhaustive + self.random

    @property
    def accuracy(self) -> float:
        """Fraction of instances answered like the reference solver."""
        return self.correct / self.checked if self.checked else 1.0

    @property
    def ok(self) -> bool:
        """Whether every instance and every cross-check agreed."""
        return not self.failures and self.correct == self.checked

    def as_dict(self) -> dict:
        """Return the report as a JSON-serialisable dict."""
        return {
            "construction": self.construction,
            "checked": self.checked,
            "exhaustive": self.exhaustive,
            "random": self.random,
            "correct": self.correct,
            "accuracy": self.accuracy,
            "max_bits": self.max_bits,
            "largest_size": self.largest_size,
            "largest_length": self.largest_length,
            "depth": self.depth,
            "nonlinear_depth": self.nonlinear_depth,
            "circuit_size": self.circuit_size,
            "cross_checked": self.cross_checked,
            "failures": list(self.failures),
            "seconds": self.seconds,
            "ok": self.ok,
        }

    def fail(self, message: str) -> None:
        if len(self.failures) < 10:
            self.failures.append(message)
        logger.warning("%s: %s", self.construction, message)


def construction_spec(name: str):
    """Return the validated spec of a construction model (built in memory).

    Parameters
    ----------
    name : str
        ``connectivity-counter`` or ``cvp-stack``.
    """
    from circuitlab.spec import parse_spec

    builders = {
        COUNTER_SPEC_NAME: connectivity_counter_spec,
        STACK_SPEC_NAME: cvp_stack_spec,
    }
    if name not in builders:
        raise ProblemError(
            f"unknown construction model {name!r}; use one of {', '.join(builders)}"
        )
    return parse_spec(builders[name]().table, source=f"<{name}>", default_name=name)


def cvp_stream(program) -> str:
    """Return the padded stream of a CVP program (bits then ``3 n + 2`` ``#``)."""
    bits = cvp_program_bits(program)
    return bits + "#" * cvp_padding_length(len(bits))


def verify_construction(
    name: str,
    *,
    exhaustive_max: int | None = None,
    random_count: int | None = None,
    size_range: tuple[int, int] | None = None,
    seed: int = 0,
    cross_checks: int = 3,
    compile_largest: bool = True,
    progress: Progress | None = None,
) -> VerifyReport:
    """Check a construction on exhaustive and random instances.

    Parameters
    ----------
    name : str
        One of :data:`CONSTRUCTION_NAMES`.
    exhaustive_max : int, optional
        Largest exhaustive size: vertices for connectivity (every sorted
        instance and every functional graph, all sources and targets), program
        instructions for CVP. 0 skips the exhaustive set. Defaults in
        :data:`DEFAULTS`.
    random_count : int, optional
        Random instances to draw.
    size_range : (int, int), optional
        Size range of random instances, inclusive: vertices or gates.
    seed : int
        Seed of the random instances.
    cross_checks : int
        Instances also run through ``reference_states`` and the compiled circuit
        over Q.
    compile_largest : bool
        Compile the chain circuit of the largest instance and report its depth.
    progress : callable, optional
        ``progress(phase, done, total)``.

    Returns
    -------
    VerifyReport
        The counts, precision and depths. ``report.ok`` is False on any
        disagreement.
    """
    if name not in CONSTRUCTION_NAMES:
        raise ProblemError(
            f"unknown construction {name!r}; use one of {', '.join(CONSTRUCTION_NAMES)}"
        )
    defaults = DEFAULTS[name]
    exhaustive_max = (
        defaults.exhaustive_max if exhaustive_max is None else exhaustive_max
    )
    random_count = defaults.random_count if random_count is None else random_count
    low, high = defaults.size_range if size_range is None else size_range
    if exhaustive_max < 0 or random_count < 0 or low < 1 or high < low:
        raise ProblemError(
            f"invalid workload: exhaustive max {exhaustive_max}, {random_count} random "
            f"instances, sizes {low}..{high}"
        )
    rng = np.random.default_rng(seed)
    report = VerifyReport(name)
    start = time.perf_counter()
    runner = {
        "graph-connectivity": _verify_connectivity,
        "cvp-stack": _verify_cvp_stack,
        "cvp-relu": _verify_cvp_relu,
    }[name]
    runner(
        report,
        exhaustive_max,
        random_count,
        (low, high),
        rng,
        cross_checks,
        compile_largest,
        progress,
    )
    report.seconds = time.perf_counter() - start
    return report


# ---------------------------------------------------------------------------
# Shared cross-checks
# ---------------------------------------------------------------------------


def _cross_check(report: VerifyReport, spec, model, stream: str, final) -> None:
    """Require reference_states and the compiled circuit (over Q) to give ``final``."""
    from circuitlab.compile import compile_model
    from circuitlab.evaluate import evaluate

    tokens = list(stream)
    reference = model.reference_states(tokens)[-1]
    if [str(v) for v in reference] != [str(v) for v in final]:
        report.fail(f"reference_states differs from the fast runner on {stream!r}")
        return
    circuit = compile_model(model, len(tokens), "chain")
    values = evaluate(circuit, model.encode(tokens), domain="Q")
    if [str(v) for v in values["state"][-1]] != [str(v) for v in reference]:
        report.fail(f"the compiled circuit differs from reference_states on {stream!r}")
        return
    _, accepted = model.reference_readout(reference)
    if bool(values["accept"][0] > 0) != accepted:
        report.fail(f"the compiled circuit's accept bit is wrong on {stream!r}")
        return
    report.cross_checked += 1


def _compile_stats(
    report: VerifyReport, model, length: int, progress: Progress | None
) -> None:
    from circuitlab.analysis.metrics import circuit_stats
    from circuitlab.compile import compile_model

    circuit = compile_model(model, length, "chain", progress=progress)
    stats = circuit_stats(circuit, support=False)
    report.depth = stats["depth"]
    report.nonlinear_depth = stats["nonlinear_depth"]
    report.circuit_size = stats["size"]


# ---------------------------------------------------------------------------
# Graph connectivity
# ---------------------------------------------------------------------------


def _describe_query(query) -> str:
    graph, source, target = query
    if isinstance(graph, SortedInstance):
        listed = list(graph.edges)
    else:
        listed = sorted(graph.edges.items())
    kind = type(graph).__name__
    return f"{kind} N={graph.num_vertices} edges={listed} s={source} t={target}"


def _verify_connectivity(
    report,
    exhaustive_max,
    random_count,
    size_range,
    rng,
    cross_checks,
    compile_largest,
    progress,
) -> None:
    from circuitlab.models import build_model

    spec = construction_spec(COUNTER_SPEC_NAME)
    model = build_model(spec)
    runner = IntegerBatchMlp(spec)
    sets = []
    if exhaustive_max:
        sets.append(
            ("exhaustive", exhaustive_connectivity(exhaustive_max, exhaustive_max))
        )
    if random_count:
        sets.append(("random", random_connectivity(random_count, *size_range, rng)))
    longest = ""
    for label, queries in sets:
        if not len(queries):
            continue

        def tick(done, total, label=label):
            if progress:
                progress(f"{label} streams", done, total)

        run = runner.run(queries.streams, progress=tick)
        answers = run.accepted[np.asarray(queries.stream_of)]
        expected = np.asarray(queries.expected)
        setattr(report, label, getattr(report, label) + len(queries))
        report.correct += int((answers == expected).sum())
        for k in np.flatnonzero(answers != expected)[:10]:
            report.fail(
                f"{_describe_query(queries.queries[k])}: RNN says "
                f"{bool(answers[k])}, networkx says {bool(expected[k])}"
            )
        report.max_bits = max(report.max_bits, int(run.max_bits.max()))
        biggest = int(np.argmax(queries.sizes))
        if queries.sizes[biggest] >= report.largest_size:
            report.largest_size = queries.sizes[biggest]
        for stream in queries.streams:
            if len(stream) > len(longest):
                longest = stream
        # Cross-check a few streams of this set, spread over the lengths up to
        # _CROSS_CHECK_TOKENS, through reference_states and the compiled circuit.
        short = sorted(
            (i for i, s in enumerate(queries.streams) if len(s) <= _CROSS_CHECK_TOKENS),
            key=lambda i: len(queries.streams[i]),
        )
        if cross_checks and short:
            spacing = max(1, len(short) // cross_checks)
            for i in short[::-1][::spacing][:cross_checks]:
                _cross_check(report, spec, model, queries.streams[i], run.final[i])
    report.largest_length = len(longest)
    if compile_largest and longest:
        _compile_stats(report, model, len(longest), progress)


# ---------------------------------------------------------------------------
# CVP with the stack RNN
# ---------------------------------------------------------------------------


def _cvp_cases(exhaustive_max, random_count, size_range, rng):
    """Yield ``(label, size, instance, expected)``.

    ``instance`` is a :class:`CvpProgram` (exhaustive) or a pair ``(circuit,
    assignment)`` (random, every second one with NOT gates).
    """
    if exhaustive_max:
        for program in all_cvp_programs(exhaustive_max):
            yield (
                "exhaustive",
                len(program.instructions),
                program,
                evaluate_cvp_program(program),
            )
    for k in range(random_count):
        size = int(rng.integers(size_range[0], size_range[1] + 1))
        monotone = k % 2 == 0
        circuit, assignment = random_cvp_instance(size, rng, monotone=monotone)
        expected = evaluate_circuit(circuit, assignment)[circuit.outputs[0]]
        yield "random", size, (circuit, assignment), expected


def _cvp_monotone(instance):
    """Return ``(monotone circuit, assignment)`` of a random instance."""
    circuit, assignment = instance
    if circuit.is_monotone:
        return circuit, assignment
    rails = to_monotone(circuit)
    return rails.circuit, rails.expand_assignment(assignment)


def _describe_cvp(instance) -> str:
    if isinstance(instance, tuple):
        circuit, assignment = instance
        return f"{circuit!r} assignment={list(assignment)}"
    return f"program bits {cvp_program_bits(instance)}"


def _verify_cvp_stack(
    report,
    exhaustive_max,
    random_count,
    size_range,
    rng,
    cross_checks,
    compile_largest,
    progress,
) -> None:
    from circuitlab.models import build_model

    spec = construction_spec(STACK_SPEC_NAME)
    model = build_model(spec)
    runner = SparseMlp(spec)
    cases = list(_cvp_cases(exhaustive_max, random_count, size_range, rng))
    longest = ""
    short_streams = []
    for done, (label, size, instance, expected) in enumerate(cases, start=1):
        if isinstance(instance, tuple):
            circuit, assignment = _cvp_monotone(instance)
            stream = encode_cvp_stream(circuit, assignment)
        else:
            stream = cvp_stream(instance)
        run = runner.run(stream)
        setattr(report, label, getattr(report, label) + 1)
        if run.accepted == bool(expected):
            report.correct += 1
        else:
            report.fail(
                f"{_describe_cvp(instance)}: RNN says {run.accepted}, the circuit "
                f"evaluates to {bool(expected)}"
            )
        report.max_bits = max(report.max_bits, run.max_bits)
        report.largest_size = max(report.largest_size, size)
        if len(stream) > len(longest):
            longest = stream
        if len(stream) <= _CROSS_CHECK_TOKENS // 3:
            short_streams.append((stream, run.final))
        if progress:
            progress("instances", done, len(cases))
    step = max(1, len(short_streams) // max(cross_checks, 1))
    for stream, final in short_streams[::step][:cross_checks]:
        _cross_check(report, spec, model, stream, final)
    report.largest_length = len(longest)
    if compile_largest and longest:
        _compile_stats(report, model, len(longest), progress)


# ---------------------------------------------------------------------------
# CVP as a ReLU circuit
# ---------------------------------------------------------------------------


def _verify_cvp_relu(
    report,
    exhaustive_max,
    random_count,
    size_range,
    rng,
    cross_checks,
    compile_largest,
    progress,
) -> None:
    from circuitlab.analysis.metrics import circuit_stats
    from circuitlab.evaluate import evaluate

    cases = list(_cvp_cases(exhaustive_max, random_count, size_range, rng))
    largest = None
    for done, (label, size, instance, expected) in enumerate(cases, start=1):
        if isinstance(instance, tuple):
            circuit, assignment = _cvp_monotone(instance)
        else:
            circuit, assignment = program_to_circuit(instance)
        compiled = relu_circuit(circuit)
        if isinstance(assignment, dict):
            values = [int(bool(assignment[n])) for n in circuit.inputs]
        else:
            values = [int(bool(v)) for v in assignment]
        nodes = evaluate(compiled, {"x": values}, domain="Q", outputs=False)
        output = nodes[compiled.outputs["y"][0]]
        setattr(report, label, getattr(report, label) + 1)
        if output == int(bool(expected)):
            report.correct += 1
        else:
            report.fail(
                f"{_describe_cvp(instance)}: ReLU circuit gives {output}, the "
                f"circuit evaluates to {bool(expected)}"
            )
        report.max_bits = max(report.max_bits, max(bit_size(v) for v in nodes))
        if largest is None or len(circuit.gates) >= len(largest.gates):
            largest = circuit
            report.largest_size = size
        if progress:
            progress("instances", done, len(cases))
    report.cross_checked = report.checked
    if largest is not None:
        report.largest_length = len(largest.gates)
        if compile_largest:
            stats = circuit_stats(relu_circuit(largest), support=False)
            report.depth = stats["depth"]
            report.nonlinear_depth = stats["nonlinear_depth"]
            report.circuit_size = stats["size"]
