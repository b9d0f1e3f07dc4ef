"""The ``reduce`` and ``verify`` commands for the nonlinear RNN constructions.

``circuitlab reduce graph-connectivity INSTANCE`` and ``circuitlab reduce cvp
FILE.bench`` print the token stream that the construction's RNN reads.
``circuitlab verify CONSTRUCTION`` checks a construction exactly against the
reference solver and exits with status 1 on any disagreement.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from circuitlab.cli.options import make_progress
from circuitlab.errors import ProblemError

__all__ = ["reduce_command", "verify_command"]

logger = logging.getLogger(__name__)


def _write_atomically(path: str, text: str) -> None:
    """Write ``text`` to ``path`` completely or not at all (temp file, then rename)."""
    from circuitlab.circuit.io import write_atomic

    write_atomic(
        path, lambda temporary: Path(temporary).write_text(text, encoding="utf-8")
    )


def _emit(stream: str, output: str | None) -> None:
    if output:
        _write_atomically(output, stream + "\n")
    else:
        click.echo(stream)


def _estimated_tokens(graph, form: str) -> int:
    """Estimate the unary stream length before building it.

    A sorted instance costs about u + v + 2 tokens per edge. A functional graph on
    N vertices first becomes a layered instance of V = N (N + 1) + 1 vertices, so
    its stream grows like N^4; the bound (N + 1) (m + 1) (2 V + 2) for m edges is
    computed instead.
    """
    if form == "functional":
        count = graph.num_vertices
        layered = count * (count + 1) + 1
        return (count + 1) * (len(graph.edges) + 1) * (2 * layered + 2)
    edges = getattr(graph, "edges", ())
    return sum(u + v + 2 for u, v in edges) + 2 * graph.num_vertices + 4


@click.group("reduce")
def reduce_command() -> None:
    """Reduce a problem instance to the token stream of its construction's RNN."""


@reduce_command.command("graph-connectivity")
@click.argument("instance", type=click.Path(dir_okay=False))
@click.option(
    "--form",
    type=click.Choice(["auto", "sorted", "functional", "stream"]),
    default="auto",
    show_default=True,
    help="Instance format: a sorted instance file, a functional graph file, or a "
    "token stream; auto tries stream, then sorted, then functional.",
)
@click.option("--source", type=int, help="Source vertex (overrides the file's).")
@click.option("--target", type=int, help="Target vertex (overrides the file's).")
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False),
    help="Write the stream to this file (complete or not at all) instead of stdout.",
)
@click.option(
    "--max-tokens",
    type=click.IntRange(min=1),
    default=50_000_000,
    show_default=True,
    help="Reject instances whose estimated stream is longer than this many tokens.",
)
def reduce_graph_command(instance, form, source, target, output, max_tokens):
    """Print the connectivity-counter stream that decides reachability in INSTANCE.

    A functional graph goes through the layered reduction, and a sorted instance
    whose target has an out-edge loses that edge; both keep the answer and make
    the target a sink, as the counter machine needs. File formats are described
    in circuitlab/problems/graph_connectivity.py.
    """
    from circuitlab.constructions.counter_rnn import connectivity_stream
    from circuitlab.constructions.streams import read_connectivity_instance

    graph, query_source, query_target, found_form = read_connectivity_instance(
        instance, form=form
    )
    source = query_source if source is None else source
    target = query_target if target is None else target
    if source is None or target is None:
        raise ProblemError(
            f"{instance}: the {found_form} graph has no query; add 'source s' and "
            f"'target t' lines or pass --source and --target"
        )
    estimate = _estimated_tokens(graph, found_form)
    if estimate > max_tokens:
        raise ProblemError(
            f"{instance}: the stream would have about {estimate:,} tokens "
            f"({found_form} graph with {graph.num_vertices:,} vertices), above "
            f"--max-tokens {max_tokens:,}; raise --max-tokens or use a smaller graph"
        )
    stream = connectivity_stream(graph, source, target)
    logger.info(
        "%s: %s instance with %d vertices, stream of %d tokens",
        instance,
        found_form,
        graph.num_vertices,
        len(stream),
    )
    _emit(stream, output)


def _parse_assignment(text: str | None) -> dict[str, int]:
    values: dict[str, int] = {}
    if not text:
        return values
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        name, sep, value = part.partition("=")
        name, value = name.strip(), value.strip()
        if not sep or not name or value not in ("0", "1"):
            raise click.BadParameter(
                f"{part!r} is not NAME=0 or NAME=1", param_hint="--assign"
            )
        if name in values:
            raise click.BadParameter(
                f"input {name!r} is assigned twice", param_hint="--assign"
            )
        values[name] = int(value)
    return values


@reduce_command.command("cvp")
@click.argument("bench", type=click.Path(dir_okay=False))
@click.option(
    "--assign",
    "assignment",
    help="Input values as NAME=0/1 pairs separated by commas, for example a=1,b=0. "
    "Every input needs a value.",
)
@click.option("--signal", help="Output signal to decide when the circuit has several.")
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False),
    help="Write the stream to this file (complete or not at all) instead of stdout.",
)
def reduce_cvp_command(bench, assignment, signal, output):
    """Print the padded cvp-stack stream of the circuit in BENCH (ISCAS .bench).

    The stream is the program bits then 3 n + 2 padding tokens '#'. A circuit
    with NOT gates is first made monotone by double-rail logic.
    """
    from circuitlab.problems.circuit_value import (
        encode_cvp_stream,
        read_bench,
        to_monotone,
    )

    circuit = read_bench(bench)
    values = _parse_assignment(assignment)
    unknown = sorted(set(values) - set(circuit.inputs))
    if unknown:
        raise ProblemError(
            f"{bench}: --assign names unknown inputs {unknown}; the inputs are "
            f"{list(circuit.inputs)}"
        )
    missing = [name for name in circuit.inputs if name not in values]
    if missing:
        raise ProblemError(
            f"{bench}: inputs {missing} have no value; add them to --assign "
            f"(for example --assign {missing[0]}=0)"
        )
    if signal is not None and signal not in circuit.outputs:
        raise ProblemError(
            f"{bench}: --signal {signal!r} is not an output; outputs are "
            f"{list(circuit.outputs)}"
        )
    if signal is None and len(circuit.outputs) > 1:
        raise ProblemError(
            f"{bench}: the circuit has outputs {list(circuit.outputs)}; choose one "
            f"with --signal"
        )
    monotone, expanded = circuit, values
    if not circuit.is_monotone:
        rails = to_monotone(circuit)
        monotone, expanded = rails.circuit, rails.expand_assignment(values)
        logger.info("%s: converted to a monotone circuit by double-rail logic", bench)
    stream = encode_cvp_stream(monotone, expanded, signal)
    _emit(stream, output)


def _parse_size_range(text: str | None) -> tuple[int, int] | None:
    if text is None:
        return None
    low, sep, high = text.partition("..")
    try:
        bounds = (int(low), int(high)) if sep else (int(low), int(low))
    except ValueError:
        raise click.BadParameter(
            f"{text!r} is not A..B with integers A <= B", param_hint="--size-range"
        ) from None
    if bounds[0] < 1 or bounds[1] < bounds[0]:
        raise click.BadParameter(
            f"{text!r} is not A..B with 1 <= A <= B", param_hint="--size-range"
        )
    return bounds


def _report_table(report) -> Table:
    table = Table(title=f"verify {report.construction}")
    table.add_column("metric")
    table.add_column("value", justify="right")
    table.add_column("unit")
    rows = [
        (
            "instances checked",
            f"{report.checked:,}",
            f"{report.exhaustive:,} exhaustive",
        ),
        ("correct", f"{report.correct:,}", "answers equal to the reference solver"),
        ("accuracy", f"{100 * report.accuracy:.2f}", "%"),
        ("max precision", f"{report.max_bits:,}", "bits (numerator + denominator)"),
        ("largest instance", f"{report.largest_size:,}", "vertices or gates"),
        ("longest input", f"{report.largest_length:,}", "tokens (cvp-relu: gates)"),
        ("exact cross-checks", f"{report.cross_checked:,}", "instances"),
    ]
    if report.depth is not None:
        rows += [
            ("depth at largest", f"{report.depth:,}", "gates on the longest path"),
            ("nonlinear depth", f"{report.nonlinear_depth:,}", "ReLU gates on a path"),
            ("circuit size", f"{report.circuit_size:,}", "gates"),
        ]
    rows.append(("time", f"{report.seconds:.1f}", "seconds"))
    for row in rows:
        table.add_row(*row)
    return table


@click.command("verify")
@click.argument(
    "construction", type=click.Choice(["graph-connectivity", "cvp-stack", "cvp-relu"])
)
@click.option(
    "--exhaustive-max",
    type=click.IntRange(min=0),
    help="Check every instance up to this size: vertices for graph-connectivity "
    "(sorted and functional, all sources and targets; default 5), program "
    "instructions for cvp-stack (default 3) and cvp-relu (default 4). 0 skips.",
)
@click.option(
    "--random",
    "random_count",
    type=click.IntRange(min=0),
    help="Number of random instances (default 100, 20 for cvp-stack).",
)
@click.option(
    "--size-range",
    help="Sizes A..B of random instances: vertices for graph-connectivity "
    "(default 101..300), gates for cvp-stack (8..32) and cvp-relu (8..512).",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Random seed.")
@click.option(
    "--no-compile",
    is_flag=True,
    help="Skip compiling the chain circuit of the largest instance (no depth).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def verify_command(
    construction, exhaustive_max, random_count, size_range, seed, no_compile, as_json
):
    """Run CONSTRUCTION exactly on many instances and compare with the reference.

    The answers are compared with networkx reachability (graph-connectivity) or
    boolean circuit evaluation (cvp-stack, cvp-relu). The report gives the
    accuracy, the largest state value in bits, and the depth and nonlinear depth
    of the compiled circuit at the largest instance. Exit status 1 on any
    disagreement.
    """
    from circuitlab.constructions.verify import verify_construction

    bounds = _parse_size_range(size_range)
    if exhaustive_max == 0 and random_count == 0:
        raise ProblemError(
            "nothing to verify: --exhaustive-max 0 and --random 0 check no instance; "
            "raise one of them"
        )
    with make_progress(disable=as_json) as progress:
        report = verify_construction(
            construction,
            exhaustive_max=exhaustive_max,
            random_count=random_count,
            size_range=bounds,
            seed=seed,
            compile_largest=not no_compile,
            progress=progress,
        )
    if as_json:
        click.echo(json.dumps(report.as_dict(), indent=2))
    else:
        console = Console()
        console.print(_report_table(report))
        for failure in report.failures:
            console.print(f"[red]disagreement[/red] {failure}", markup=True)
        console.print("all instances agree" if report.ok else "DISAGREEMENT found")
    if not report.ok:
        click.get_current_context().exit(1)
