"""Options and helpers shared by the CLI commands."""

from __future__ import annotations

import contextlib
import sys

import click
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from circuitlab.errors import CompileError, SpecError

__all__ = [
    "model_options",
    "compile_options",
    "parse_n",
    "resolve_model",
    "resolve_strategy",
    "make_progress",
    "check_writable",
]


def model_options(function):
    """Add --model, --free, --state-dim and --rank."""
    function = click.option(
        "--rank",
        type=int,
        default=1,
        show_default=True,
        help="Rank r of the low-rank term for --free dplr models.",
    )(function)
    function = click.option(
        "--state-dim",
        type=int,
        default=None,
        help="State size D (coordinates) for --free models.",
    )(function)
    function = click.option(
        "--free",
        is_flag=True,
        help="Make the per-position transition parameters circuit inputs "
        "(--model names a linear family: diagonal, pd, dplr, deltanet, gated-deltanet, rwkv7, dense).",
    )(function)
    function = click.option(
        "--model",
        "-m",
        required=True,
        help="Shipped model name (see `circuitlab models`) or path to a spec .toml file.",
    )(function)
    return function


def compile_options(function):
    """Add --n, --strategy, --outputs, --no-fold, --pd-combine and --max-memory."""
    from circuitlab.compile.affine import PD_COMBINES

    function = click.option(
        "--max-memory",
        type=float,
        default=8.0,
        show_default=True,
        callback=check_gib,
        help="Reject circuits whose estimated IR memory exceeds this many GiB.",
    )(function)
    function = click.option(
        "--pd-combine",
        type=click.Choice(PD_COMBINES),
        default="structured",
        show_default=True,
        help="PD maps compose as (permutation, diagonal) with AND/OR gates, or as monomial matrices.",
    )(function)
    function = click.option(
        "--no-fold",
        is_flag=True,
        help="Switch off build-time constant folding (x*0, x*1, x+0).",
    )(function)
    function = click.option(
        "--outputs",
        type=click.Choice(["final", "all"]),
        default="final",
        show_default=True,
        help="Emit only the final state h_n, or every prefix state h_1..h_n.",
    )(function)
    function = click.option(
        "--strategy",
        "-s",
        default=None,
        help="chain, tree, serial, sklansky, kogge-stone, brent-kung or ladner-fischer "
        "(default: tree for linear models, chain for nonlinear ones, sklansky for "
        "multilayer networks of linear heads).",
    )(function)
    function = click.option(
        "--n", "n", required=True, help="Number of input positions (integer >= 1)."
    )(function)
    return function


def check_gib(context, parameter, value):
    """Click callback: accept a finite, positive number of GiB."""
    import math

    if value is not None and (not math.isfinite(value) or value <= 0):
        raise CompileError(
            f"--max-memory must be a positive number of GiB, got {value}"
        )
    return value


def parse_n(text) -> int:
    """Parse a positive integer number of positions, with a one-line error otherwise."""
    try:
        value = int(str(text).strip().replace("_", ""))
    except ValueError:
        raise CompileError(f"--n must be a positive integer, got {text!r}") from None
    if value < 1:
        raise CompileError(f"--n must be a positive integer, got {value}")
    return value


def resolve_model(model: str, free: bool, state_dim, rank: int):
    """Return the model object for --model/--free/--state-dim/--rank."""
    from circuitlab.models import build_model, free_model
    from circuitlab.spec import load_spec

    if free:
        if state_dim is None:
            raise SpecError("--free needs --state-dim D (the state size)")
        if rank < 1:
            raise SpecError(f"--rank must be at least 1, got {rank}")
        return free_model(model, state_dim, rank)
    if state_dim is not None:
        raise SpecError(
            "--state-dim applies only with --free (a spec fixes its own state size)"
        )
    return build_model(load_spec(model))


def check_writable(path) -> None:
    """Raise FormatError unless ``path`` can be created (checked before long work)."""
    import os
    from pathlib import Path

    from circuitlab.errors import FormatError

    directory = Path(path).parent if str(Path(path).parent) else Path(".")
    if not directory.is_dir():
        raise FormatError(f"cannot write {path}: directory {directory} does not exist")
    if not os.access(directory, os.W_OK):
        raise FormatError(f"cannot write {path}: directory {directory} is not writable")
    if Path(path).is_dir():
        raise FormatError(f"cannot write {path}: it is a directory")


def resolve_strategy(model, strategy):
    """Return ``strategy``, or the model's default (see ``default_strategy``)."""
    from circuitlab.compile import default_strategy

    return strategy if strategy is not None else default_strategy(model)


@contextlib.contextmanager
def make_progress(disable: bool = False):
    """Yield a ``progress(phase, done, total)`` callback drawing a rich progress bar.

    The bar is drawn on stderr only when stderr is a terminal.
    """
    enabled = not disable and sys.stderr.isatty()
    if not enabled:
        yield None
        return
    bar = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed:,}/{task.total:,}"),
        TimeElapsedColumn(),
        transient=True,
    )
    tasks: dict[str, int] = {}

    def update(phase: str, done: int, total: int) -> None:
        if phase not in tasks:
            tasks[phase] = bar.add_task(phase, total=total)
        bar.update(tasks[phase], completed=done)

    with bar:
        yield update
