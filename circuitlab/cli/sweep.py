"""The ``sweep`` command: measure circuits over many n and write tables and plots.

Every output file is written to a temporary file in the same directory and moved
into place with :func:`os.replace`, so a file is either complete or untouched.
"""

from __future__ import annotations

import csv
import json
import math
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from circuitlab.analysis.sweep import (
    ALL_METRICS,
    DEFAULT_METRICS,
    ROW_KEYS,
    ModelRef,
    default_jobs,
    parse_n_values,
    plan_sweep,
    run_sweep,
)
from circuitlab.circuit import io as circuit_io
from circuitlab.cli.options import check_gib, make_progress, model_options
from circuitlab.errors import FormatError

__all__ = ["sweep_command", "write_atomic", "write_csv", "write_json", "plot_sweep"]

PLOT_FORMATS = {".png": "png", ".svg": "svg"}


def _repeatable_model_options(function):
    """Add --model (repeatable), --free, --state-dim and --rank.

    Reuses :func:`~circuitlab.cli.options.model_options` and replaces its
    single-valued --model with a repeatable one.
    """
    # NOTE: this swaps a click parameter that model_options created; if
    # model_options gains a ``multiple`` switch, use that instead.
    function = model_options(function)
    params = function.__click_params__
    position = next(i for i, param in enumerate(params) if param.name == "model")
    params[position] = click.Option(
        ["--model", "-m"],
        multiple=True,
        required=True,
        help="Shipped model name (see `circuitlab models`) or path to a spec .toml file; "
        "repeat for several models.",
    )
    return function


def write_atomic(path: str | Path, write: Callable, *, binary: bool = False) -> None:
    """Call ``write(handle)`` on a temporary file next to ``path``, then replace ``path``.

    Raises
    ------
    FormatError
        If the directory does not exist or the file cannot be written; ``path`` is
        then left as it was.
    """

    def writer(temporary: str) -> None:
        options = {} if binary else {"encoding": "utf-8", "newline": ""}
        with open(temporary, "wb" if binary else "w", **options) as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())

    circuit_io.write_atomic(path, writer)


def _columns(metrics: Sequence[str]) -> list[str]:
    return list(ROW_KEYS) + list(metrics) + ["compile_seconds"]


def write_csv(path: str | Path, rows: Sequence[dict], metrics: Sequence[str]) -> None:
    """Write the sweep rows as CSV (one header line; empty cells for undefined values)."""
    columns = _columns(metrics)

    def write(handle) -> None:
        writer = csv.DictWriter(handle, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        for row in rows:
            writer.writerow(
                {key: "" if row.get(key) is None else row[key] for key in columns}
            )

    write_atomic(path, write)


def sweep_document(
    rows: Sequence[dict], metrics: Sequence[str], skipped: Sequence[str]
) -> dict:
    """Return the JSON document of a sweep: its columns, rows and skipped pairs."""
    return {"columns": _columns(metrics), "rows": list(rows), "skipped": list(skipped)}


def write_json(path: str | Path, document: dict) -> None:
    """Write a JSON document atomically."""
    write_atomic(path, lambda handle: json.dump(document, handle, indent=2))


def _series(rows: Sequence[dict]) -> dict[str, list[dict]]:
    groups: dict[str, list[dict]] = {}
    for row in rows:
        label = f"{row['model']} {row['strategy']}"
        groups.setdefault(label, []).append(row)
    for group in groups.values():
        group.sort(key=lambda row: row["n"])
    return groups


def plot_sweep(path: str | Path, rows: Sequence[dict], metrics: Sequence[str]) -> None:
    """Draw each metric against n (log2 axis), one line per model and strategy.

    Each subplot also shows ``log2 n`` and ``n``, scaled to pass through the first
    point with n > 1 and a positive value of the first line that has one. The value axis is
    logarithmic when every value is positive, linear otherwise.

    Raises
    ------
    FormatError
        If the suffix is not .png or .svg.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    path = Path(path)
    kind = PLOT_FORMATS.get(path.suffix.lower())
    if kind is None:
        raise FormatError(
            f"cannot plot to {path}: unknown suffix {path.suffix!r}; use .png or .svg"
        )
    groups = _series(rows)
    columns = 1 if len(metrics) == 1 else 2
    lines = math.ceil(len(metrics) / columns)
    figure = Figure(figsize=(6.4 * columns, 4.2 * lines), layout="constrained")
    FigureCanvasAgg(figure)
    for number, metric in enumerate(metrics, start=1):
        axes = figure.add_subplot(lines, columns, number)
        _plot_metric(axes, metric, groups)
    write_atomic(path, lambda handle: figure.savefig(handle, format=kind), binary=True)


def _plot_metric(axes, metric: str, groups: dict[str, list[dict]]) -> None:
    positive = True
    anchor = None

    for label, group in groups.items():
        points = [
            (row["n"], row[metric]) for row in group if row.get(metric) is not None
        ]
        if not points:
            continue
        ns = [point[0] for point in points]
        values = [point[1] for point in points]
        positive = positive and all(v > 0 for v in values)
        axes.plot(ns, values, marker="o", markersize=3, label=label)
        if anchor is None:
            anchor = next(((n, v) for n, v in points if n > 1 and v > 0), None)

    all_n = sorted(
        {row["n"] for group in groups.values() for row in group if row["n"] > 1}
    )
    if anchor is not None and all_n:
        n0, v0 = anchor
        axes.plot(
            all_n,
            [v0 * math.log2(n) / math.log2(n0) for n in all_n],
            "k--",
            linewidth=0.8,
            label="log2 n (scaled)",
        )
        axes.plot(
            all_n, [v0 * n / n0 for n in all_n], "k:", linewidth=0.8, label="n (scaled)"
        )

    axes.set_xscale("log", base=2)
    if positive and anchor is not None:
        axes.set_yscale("log")
    axes.set_xlabel("n")
    axes.set_ylabel(metric)
    axes.set_title(metric)
    axes.grid(True, which="major", linewidth=0.3)
    axes.legend(fontsize="small")


def _format(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:,.4g}" if not value.is_integer() else f"{int(value):,}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def _table(rows: Sequence[dict], metrics: Sequence[str]) -> Table:
    table = Table(title="sweep")
    for column in ("model", "strategy", "n", *metrics, "compile s"):
        table.add_column(
            column, justify="left" if column in ("model", "strategy") else "right"
        )
    for row in rows:
        cells = [row["model"], row["strategy"], _format(row["n"])]
        cells += [_format(row.get(metric)) for metric in metrics]
        seconds = row.get("compile_seconds")
        cells.append("" if seconds is None else f"{seconds:.3f}")
        table.add_row(*cells)
    return table


@click.command("sweep")
@_repeatable_model_options
@click.option(
    "--strategy",
    "-s",
    "strategies",
    multiple=True,
    help="chain, tree, serial, sklansky, kogge-stone, brent-kung or ladner-fischer; repeat "
    "for several (default: tree for linear models, chain for nonlinear ones).",
)
@click.option(
    "--n",
    "n_text",
    required=True,
    help="n values: integers and ranges A..B separated by commas. A..B means A, B and every "
    "2^k, 2^k+1 and 3*2^(k-1) between them.",
)
@click.option(
    "--metric",
    "metrics",
    multiple=True,
    type=click.Choice(ALL_METRICS),
    help=f"Metric to report; repeat for several (default: {', '.join(DEFAULT_METRICS)}).",
)
@click.option(
    "--outputs",
    type=click.Choice(["final", "all"]),
    default="final",
    show_default=True,
    help="Emit only the final state h_n, or every prefix state h_1..h_n.",
)
@click.option("--no-fold", is_flag=True, help="Switch off build-time constant folding.")
@click.option(
    "--pd-combine",
    type=click.Choice(["structured", "monomial"]),
    default="structured",
    show_default=True,
    help="How PD maps compose.",
)
@click.option(
    "--max-memory",
    type=float,
    default=8.0,
    show_default=True,
    callback=check_gib,
    help="Reject sweep points whose estimated IR memory exceeds this many GiB.",
)
@click.option(
    "--jobs",
    "-j",
    type=click.IntRange(min=1),
    default=None,
    help="Worker processes (default: min(2, CPU count)); 1 runs in this process.",
)
@click.option(
    "--precision",
    is_flag=True,
    help="Also report precision_bits: the largest exact bit size of any state value.",
)
@click.option(
    "--seed",
    type=int,
    default=0,
    show_default=True,
    help="Seed of the random inputs for the precision metrics.",
)
@click.option(
    "--samples",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Random inputs drawn per n for the precision metrics (the maximum is kept).",
)
@click.option(
    "--csv",
    "csv_path",
    type=click.Path(dir_okay=False),
    default=None,
    help="Write the table as CSV to this file.",
)
@click.option(
    "--json",
    "json_path",
    is_flag=False,
    flag_value="-",
    default=None,
    type=click.Path(dir_okay=False, allow_dash=True),
    help="Write the table as JSON to this file; --json alone prints it instead of the table.",
)
@click.option(
    "--plot",
    "plot_path",
    type=click.Path(dir_okay=False),
    default=None,
    help="Draw every metric against n into this .png or .svg file.",
)
def sweep_command(
    model,
    free,
    state_dim,
    rank,
    strategies,
    n_text,
    metrics,
    outputs,
    no_fold,
    pd_combine,
    max_memory,
    jobs,
    precision,
    seed,
    samples,
    csv_path,
    json_path,
    plot_path,
):
    """Compile models over many n and tabulate size, depth and other metrics.

    Makes one row per (model, strategy, n); for example
    `circuitlab sweep -m diagonal -m pd -s tree -s sklansky --n 1..1024 --plot depth.png`.
    """
    n_values = parse_n_values(n_text)
    metrics = list(metrics) if metrics else list(DEFAULT_METRICS)
    if precision and "precision_bits" not in metrics:
        metrics.append("precision_bits")
    refs = [ModelRef(name, free, state_dim, rank) for name in dict.fromkeys(model)]
    tasks, skipped = plan_sweep(
        refs,
        list(strategies) or [None],
        n_values,
        metrics=metrics,
        outputs=outputs,
        fold=not no_fold,
        pd_combine=pd_combine,
        max_bytes=int(max_memory * 2**30),
        seed=seed,
        samples=samples,
    )
    for message in skipped:
        click.echo(f"skipped {message}", err=True)
    with make_progress() as progress:
        rows = run_sweep(
            tasks, jobs=jobs if jobs is not None else default_jobs(), progress=progress
        )

    if csv_path:
        write_csv(csv_path, rows, metrics)
    document = sweep_document(rows, metrics, skipped)
    if json_path and json_path != "-":
        write_json(json_path, document)
    if plot_path:
        plot_sweep(plot_path, rows, metrics)
    if json_path == "-":
        click.echo(json.dumps(document, indent=2))
    else:
        Console(width=None if sys.stdout.isatty() else 200).print(_table(rows, metrics))
