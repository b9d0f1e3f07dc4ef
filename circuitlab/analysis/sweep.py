"""Sweeps: compile models over many n and measure each circuit, in several processes.

A sweep is a list of :class:`SweepTask` (one model, strategy and n each).
:func:`run_sweep` runs them in a :class:`concurrent.futures.ProcessPoolExecutor`
(``jobs`` processes, started with the ``spawn`` method so that no lock or thread of
the parent is copied) or in-process with ``jobs=1``, and returns one row per task in
task order. A row is a flat dict: model, family, strategy, n, state_dim, outputs,
one entry per requested metric, and ``compile_seconds``.

n values
--------
:func:`parse_n_values` reads a comma list of integers and ranges ``A..B``. A range
stands for its endpoints A and B and every value ``2^k``, ``2^k + 1`` and
``3*2^(k-1)`` (k >= 1) between them, so ``1..16`` is 1, 2, 3, 4, 5, 6, 8, 9, 12,
16. The powers of two form the doubling chain the claim checker's ratio test reads,
and the other values catch behaviour that differs off the powers of two.
"""

from __future__ import annotations

import importlib
import logging
import multiprocessing
import os
import time
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_EXCEPTION, ProcessPoolExecutor, wait
from dataclasses import dataclass

from circuitlab.errors import CircuitlabError, CompileError, SpecError

__all__ = [
    "ModelRef",
    "SweepTask",
    "STAT_METRICS",
    "DERIVED_METRICS",
    "ALL_METRICS",
    "DEFAULT_METRICS",
    "SUPPORT_METRICS",
    "ROW_KEYS",
    "parse_n_values",
    "default_jobs",
    "plan_sweep",
    "run_task",
    "run_sweep",
    "size_per_combine",
    "pair_problem",
    "parallel_map",
]

logger = logging.getLogger(__name__)

#: Scalars of :func:`~circuitlab.analysis.metrics.circuit_stats` a sweep can report.
STAT_METRICS = (
    "size",
    "depth",
    "nonlinear_depth",
    "max_fanin",
    "mean_fanin",
    "max_fanout",
    "mean_fanout",
    "max_input_fanout",
    "max_width",
    "inputs",
    "constants",
    "nodes",
    "edges",
    "outputs",
    "bytes",
    "depth_lower_bound",
    "support",
)
#: Metrics that need the input-support search (slow on large circuits).
SUPPORT_METRICS = ("depth_lower_bound", "support")
#: Metrics computed here rather than by circuit_stats.
DERIVED_METRICS = ("size_per_combine", "precision_bits", "gate_precision_bits")
ALL_METRICS = STAT_METRICS + DERIVED_METRICS
#: Metrics a sweep reports when none is requested.
DEFAULT_METRICS = ("size", "depth", "nonlinear_depth", "max_fanin", "max_fanout")
#: Metrics that need no circuit (only the model's exact reference evaluation).
_MODEL_ONLY = ("precision_bits",)
#: Columns every row starts with.
ROW_KEYS = ("model", "family", "strategy", "n", "state_dim", "outputs")

#: Largest n a range A..B may reach, to catch typos such as 1..10000000000000.
MAX_RANGE_END = 2**40


@dataclass(frozen=True)
class ModelRef:
    """A picklable description of a model, resolved in the process that uses it.

    ``name`` is a shipped spec name, a spec path, a linear family (with ``free``),
    or ``"module:attribute"``: an importable object that is a model, or a callable
    returning one when called with ``params`` as keyword arguments.
    """

    name: str
    free: bool = False
    state_dim: int | None = None
    rank: int = 1
    params: tuple = ()

    def resolve(self):
        """Return the model object (built once per process and reused)."""
        return _resolve_cached(self)

    @property
    def label(self) -> str:
        if self.free:
            return f"{self.name} (free, D={self.state_dim})"
        return self.name


_MODEL_CACHE: dict[ModelRef, object] = {}


def _resolve_cached(ref: ModelRef):
    if ref not in _MODEL_CACHE:
        _MODEL_CACHE[ref] = _resolve(ref)
    return _MODEL_CACHE[ref]


def _resolve(ref: ModelRef):
    if ":" in ref.name and not os.path.exists(ref.name):
        return _import_model(ref)
    from circuitlab.cli.options import resolve_model

    return resolve_model(ref.name, ref.free, ref.state_dim, ref.rank)


def _import_model(ref: ModelRef):
    module_name, _, attribute = ref.name.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        raise SpecError(
            f"model {ref.name!r}: cannot import module {module_name!r} ({error}); "
            "give MODULE:ATTRIBUTE of an importable model or factory"
        ) from None
    target = getattr(module, attribute, None)
    if target is None:
        raise SpecError(
            f"model {ref.name!r}: module {module_name} has no attribute {attribute!r}"
        )
    params = dict(ref.params)
    if isinstance(target, type) or (
        callable(target) and not hasattr(target, "reference_states")
    ):
        try:
            return target(**params)
        except TypeError as error:
            raise SpecError(
                f"model {ref.name!r}: calling it with {params} failed: {error}"
            ) from None
    if params:
        raise SpecError(
            f"model {ref.name!r} is an object, so it takes no params (got {params})"
        )
    return target


@dataclass(frozen=True)
class SweepTask:
    """One point of a sweep: compile (if needed) and measure one (model, strategy, n)."""

    model: ModelRef
    strategy: str
    n: int
    metrics: tuple[str, ...] = DEFAULT_METRICS
    outputs: str = "final"
    fold: bool = True
    pd_combine: str = "structured"
    max_bytes: int | None = None
    seed: int = 0
    samples: int = 1

    @property
    def needs_circuit(self) -> bool:
        return any(metric not in _MODEL_ONLY for metric in self.metrics)


def parse_n_values(text: object) -> list[int]:
    """Parse ``"1..4096"``, ``"1,2,3,100"`` or a mix into sorted distinct n values.

    See the module docstring for the values a range stands for.

    Raises
    ------
    CompileError
        For an item that is neither a positive integer nor a range ``A..B`` with
        ``1 <= A <= B``.
    """
    from circuitlab.cli.options import parse_n

    if isinstance(text, int) and not isinstance(text, bool):
        return [parse_n(text)]
    values: set[int] = set()
    items = [item.strip() for item in str(text).split(",")]
    if not any(items):
        raise CompileError("--n is empty; give integers or ranges such as 1..1024")
    for item in items:
        if ".." in item:
            low_text, _, high_text = item.partition("..")
            low, high = parse_n(low_text), parse_n(high_text)
            if low > high:
                raise CompileError(
                    f"--n range {item!r} is empty; write A..B with A <= B"
                )
            if high > MAX_RANGE_END:
                raise CompileError(
                    f"--n range {item!r} ends above {MAX_RANGE_END}; use a smaller B"
                )
            values.update(_range_values(low, high))
        else:
            values.add(parse_n(item))
    return sorted(values)


def _range_values(low: int, high: int) -> list[int]:
    found = {low, high}
    power = 1
    while power <= high:
        for value in (power, power + 1, 3 * power // 2):
            if low <= value <= high and value >= 1:
                found.add(value)
        power *= 2
    return sorted(found)


def default_jobs() -> int:
    """Return the default number of processes: ``min(2, os.cpu_count())``."""
    return max(1, min(2, os.cpu_count() or 1))


def plan_sweep(
    models: Sequence[ModelRef],
    strategies: Sequence[str | None],
    n_values: Sequence[int],
    *,
    metrics: Sequence[str] = DEFAULT_METRICS,
    outputs: str = "final",
    fold: bool = True,
    pd_combine: str = "structured",
    max_bytes: int | None = None,
    seed: int = 0,
    samples: int = 1,
) -> tuple[list[SweepTask], list[str]]:
    """Return the tasks of a sweep over every (model, strategy, n) and the skipped pairs.

    A strategy of None means the model's default (tree for linear models, chain for
    nonlinear ones). A pair the compiler cannot build (a nonlinear model with a
    combine strategy, tree with every output) is skipped with a message. Every
    task's memory estimate is checked up front, so that a sweep fails before it
    starts rather than after hours.

    Raises
    ------
    CompileError
        If every pair is skipped, a metric is unknown, or a task exceeds ``max_bytes``.
    """
    from circuitlab.compile import (
        BYTES_PER_GATE,
        STRATEGIES,
        default_strategy,
        estimate_gates,
    )

    unknown = [m for m in metrics if m not in ALL_METRICS]
    if unknown:
        raise CompileError(
            f"unknown metric {', '.join(map(repr, unknown))}; known: {', '.join(ALL_METRICS)}"
        )
    tasks: list[SweepTask] = []
    skipped: list[str] = []
    too_big: list[str] = []
    for ref in models:
        model = ref.resolve()
        for requested in strategies:
            strategy = requested or default_strategy(model)
            if strategy not in STRATEGIES:
                raise CompileError(
                    f"unknown strategy {strategy!r}; valid strategies: {', '.join(STRATEGIES)}"
                )
            problem = pair_problem(model, strategy, outputs)
            if problem:
                skipped.append(f"{ref.label} with {strategy}: {problem}")
                continue
            for n in n_values:
                task = SweepTask(
                    ref,
                    strategy,
                    int(n),
                    metrics=tuple(metrics),
                    outputs=outputs,
                    fold=fold,
                    pd_combine=pd_combine,
                    max_bytes=max_bytes,
                    seed=seed,
                    samples=samples,
                )
                if task.needs_circuit and max_bytes is not None:
                    estimate = estimate_gates(
                        model, n, strategy, fold=fold, pd_combine=pd_combine
                    )
                    if estimate * BYTES_PER_GATE > max_bytes:
                        too_big.append(
                            f"{ref.label} {strategy} n={n} (~{estimate:,} nodes)"
                        )
                tasks.append(task)
    if too_big:
        raise CompileError(
            f"{len(too_big)} sweep points exceed the memory budget of "
            f"{max_bytes / 2**30:.2f} GiB: {', '.join(too_big[:5])}"
            f"{' ...' if len(too_big) > 5 else ''}; lower the n range or raise --max-memory"
        )
    if not tasks:
        raise CompileError(f"nothing to sweep: {'; '.join(skipped)}")
    return tasks, skipped


def pair_problem(model, strategy: str, outputs: str) -> str | None:
    """Return why the compiler cannot unroll ``model`` with ``strategy``, or None."""
    if getattr(model, "is_multilayer", False):
        from circuitlab.compile import strategy_problem

        return strategy_problem(model, strategy, outputs)
    if strategy != "chain" and not getattr(model, "is_linear", False):
        return "a nonlinear RNN unrolls only as a chain"
    if strategy == "tree" and outputs == "all":
        return "tree computes only the final state (use outputs = final)"
    return None


def size_per_combine(circuit) -> float | None:
    """Return the mean number of gates per combine (None without combines).

    Gates are counted by their block label: every combine of a schedule is one
    ``"combine"`` block, so this is (gates in combine blocks) / (combine blocks).
    """
    import numpy as np

    blocks = circuit.blocks
    if "combine" not in blocks.kinds:
        return None
    is_combine = blocks.kind == blocks.kinds.index("combine")
    count = int(is_combine.sum())
    if count == 0:
        return None
    labelled = circuit.block[circuit.block >= 0]
    gates = int(np.count_nonzero(is_combine[labelled]))
    return gates / count


def run_task(task: SweepTask) -> dict:
    """Compile and measure one sweep point; return its row (see the module docstring)."""
    from circuitlab.analysis.metrics import circuit_stats
    from circuitlab.analysis.precision import (
        circuit_precision_bits,
        state_precision_bits,
    )
    from circuitlab.compile import DEFAULT_MAX_BYTES, compile_model

    model = task.model.resolve()
    row: dict = {
        "model": model.name,
        "family": getattr(model, "family", ""),
        "strategy": task.strategy,
        "n": task.n,
        "state_dim": getattr(model, "state_dim", None),
        "outputs": task.outputs,
    }
    circuit = None
    seconds = None
    if task.needs_circuit:
        budget = DEFAULT_MAX_BYTES if task.max_bytes is None else task.max_bytes
        start = time.perf_counter()
        circuit = compile_model(
            model,
            task.n,
            task.strategy,
            outputs=task.outputs,
            fold=task.fold,
            pd_combine=task.pd_combine,
            max_bytes=budget,
        )
        seconds = time.perf_counter() - start
        support = any(metric in SUPPORT_METRICS for metric in task.metrics)
        stats = circuit_stats(circuit, support=support)
    for metric in task.metrics:
        if metric == "size_per_combine":
            row[metric] = size_per_combine(circuit)
        elif metric == "precision_bits":
            row[metric] = state_precision_bits(
                model, task.n, seed=task.seed, samples=task.samples
            )
        elif metric == "gate_precision_bits":
            row[metric] = circuit_precision_bits(
                circuit, model, task.n, seed=task.seed, samples=task.samples
            )
        else:
            row[metric] = stats[metric]
    row["compile_seconds"] = seconds
    return row


def run_sweep(
    tasks: Sequence[SweepTask],
    *,
    jobs: int | None = None,
    progress: Callable[[str, int, int], None] | None = None,
) -> list[dict]:
    """Run every task and return the rows in task order.

    Parameters
    ----------
    tasks : sequence of SweepTask
    jobs : int, optional
        Number of worker processes (default :func:`default_jobs`); 1 runs in this
        process.
    progress : callable, optional
        ``progress("sweep", done, total)`` after each finished task.

    Raises
    ------
    CircuitlabError
        The first error of any task, prefixed with its model, strategy and n; the
        remaining tasks are cancelled.
    """
    # Large n first: the longest tasks start early, so the processes finish together.
    order = sorted(range(len(tasks)), key=lambda i: -tasks[i].n)
    return parallel_map(
        run_task,
        tasks,
        jobs=jobs,
        progress=progress,
        phase="sweep",
        order=order,
        describe=lambda task: f"{task.model.label} {task.strategy} n={task.n}",
    )


def parallel_map(
    function: Callable,
    items: Sequence,
    *,
    jobs: int | None = None,
    progress: Callable[[str, int, int], None] | None = None,
    phase: str = "tasks",
    order: Sequence[int] | None = None,
    describe: Callable[[object], str] | None = None,
) -> list:
    """Return ``[function(item) for item in items]``, computed in ``jobs`` processes.

    ``function`` must be importable by name (a module-level function) because the
    worker processes are spawned. For the same reason a script that calls this
    with ``jobs > 1`` must do so under ``if __name__ == "__main__":``. ``order`` is the submission order (results keep
    the order of ``items``). A :class:`CircuitlabError` is re-raised with
    ``describe(item)`` in front of its message.
    """
    jobs = default_jobs() if jobs is None else jobs
    if jobs < 1:
        raise CompileError(f"--jobs must be at least 1, got {jobs}")
    total = len(items)
    results: list = [None] * total
    if progress:
        progress(phase, 0, total)
    if jobs == 1 or total <= 1:
        for index, item in enumerate(items):
            try:
                results[index] = function(item)
            except CircuitlabError as error:
                _raise_with_context(error, item, describe)
            if progress:
                progress(phase, index + 1, total)
        return results
    order = list(range(total)) if order is None else list(order)
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=min(jobs, total), mp_context=context) as pool:
        futures = {pool.submit(function, items[i]): i for i in order}
        pending = set(futures)
        done_count = 0
        while pending:
            finished, pending = wait(pending, return_when=FIRST_EXCEPTION)
            for future in finished:
                error = future.exception()
                if error is not None:
                    for other in pending:
                        other.cancel()
                    if isinstance(error, CircuitlabError):
                        _raise_with_context(error, items[futures[future]], describe)
                    raise error
                results[futures[future]] = future.result()
                done_count += 1
            if progress:
                progress(phase, done_count, total)
    return results


def _raise_with_context(error: CircuitlabError, item, describe) -> None:
    if describe is None:
        raise error
    raise type(error)(f"{describe(item)}: {error}") from error
