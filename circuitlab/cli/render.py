"""``circuitlab render``: draw a compiled circuit, or two side by side, as a diagram."""

from __future__ import annotations

from pathlib import Path

import click

from circuitlab.cli.options import parse_n, resolve_model, resolve_strategy
from circuitlab.compile.schedules import ALL_PREFIX
from circuitlab.errors import CompileError
from circuitlab.render import (
    DEFAULT_NODE_CAP,
    DEFAULT_TIMEOUT,
    FORMATS,
    LEVELS,
    RenderResult,
    output_format,
    render_circuit,
    render_comparison,
)

__all__ = ["render_command"]


def _default_outputs(strategy: str) -> str:
    """Return ``all`` for prefix networks, which build every prefix, else ``final``."""
    return "all" if strategy in ALL_PREFIX else "final"


def _compile(model_name, strategy, n, free, state_dim, rank, outputs, no_fold):
    from circuitlab.compile import compile_model

    model = resolve_model(model_name, free, state_dim, rank)
    strategy = resolve_strategy(model, strategy)
    return compile_model(
        model,
        n,
        strategy,
        outputs=outputs or _default_outputs(strategy),
        fold=not no_fold,
    )


def _plan(model, compare, strategies) -> list[tuple[str, str | None]]:
    """Return the (model, strategy) pairs to draw: one, or two for a comparison."""
    if compare:
        if model is not None:
            raise CompileError(
                "--model and --compare exclude each other; name both models with "
                "--compare A B (the same name twice compares two strategies)"
            )
        if len(strategies) > 2:
            raise CompileError(
                f"--strategy was given {len(strategies)} times; give it at most twice"
            )
        if len(strategies) == 2:
            return list(zip(compare, strategies, strict=True))
        return [(name, strategies[0] if strategies else None) for name in compare]
    if model is None:
        raise CompileError("missing --model M (or --compare A B to draw two circuits)")
    if len(strategies) > 2:
        raise CompileError(
            f"--strategy was given {len(strategies)} times; give it at most twice"
        )
    if len(strategies) == 2:
        return [(model, strategies[0]), (model, strategies[1])]
    return [(model, strategies[0] if strategies else None)]


def _report(result: RenderResult) -> None:
    for note in result.notes:
        click.echo(note, err=True)
    if result.dot_missing:
        click.echo(f"install Graphviz: {result.install_command}", err=True)
    kind = "gates and inputs" if result.level == "gate" else "block nodes"
    click.echo(
        f"wrote {result.path} ({result.format}, {result.level} level, "
        f"{result.nodes:,} {kind}, {result.edges:,} edges)"
    )
    if result.dot_missing:
        # Only the .dot source was written, not the requested image.
        raise click.exceptions.Exit(1)


@click.command("render")
@click.option(
    "--model",
    "-m",
    default=None,
    help="Shipped model name (see `circuitlab models`) or path to a spec .toml file; "
    "with --free, a linear family.",
)
@click.option(
    "--compare",
    nargs=2,
    default=None,
    metavar="A B",
    help="Draw two models side by side on one depth scale (use the same name twice "
    "with two --strategy options to compare strategies).",
)
@click.option(
    "--n", "n", required=True, help="Number of input positions (integer >= 1)."
)
@click.option(
    "-o",
    "--output",
    "output",
    required=True,
    type=click.Path(dir_okay=False),
    help="Output file. Its suffix (.svg, .png, .pdf, .dot) sets the format "
    "unless --format is given.",
)
@click.option(
    "--strategy",
    "-s",
    "strategies",
    multiple=True,
    help="Unrolling strategy (default: tree for linear models, chain for "
    "nonlinear ones). "
    "Give it twice to draw one model with two strategies side by side.",
)
@click.option(
    "--level",
    type=click.Choice(LEVELS),
    default="auto",
    show_default=True,
    help="gate: every gate; block: one node per block; auto: gate level up to "
    "--node-cap gates.",
)
@click.option(
    "--format",
    "output_type",
    type=click.Choice(FORMATS),
    default=None,
    help="Output format (default: from the suffix of -o).",
)
@click.option(
    "--outputs",
    type=click.Choice(["final", "all"]),
    default=None,
    help="Emit only h_n, or every prefix state h_1..h_n "
    "(default: all for prefix networks, final for chain and tree).",
)
@click.option(
    "--free",
    is_flag=True,
    help="Models are linear families with free transition inputs.",
)
@click.option(
    "--state-dim", type=int, default=None, help="State size D for --free models."
)
@click.option(
    "--rank",
    type=int,
    default=1,
    show_default=True,
    help="Rank r for --free dplr models.",
)
@click.option("--no-fold", is_flag=True, help="Switch off build-time constant folding.")
@click.option(
    "--node-cap",
    type=int,
    default=DEFAULT_NODE_CAP,
    show_default=True,
    help="Gate count above which auto draws blocks, and block count above which "
    "blocks are grouped.",
)
@click.option(
    "--timeout",
    type=float,
    default=DEFAULT_TIMEOUT,
    show_default=True,
    help="Seconds the Graphviz layout may run before it is stopped.",
)
@click.option("--title", default=None, help="Heading line written above the drawing.")
def render_command(
    model,
    compare,
    n,
    output,
    strategies,
    level,
    output_type,
    outputs,
    free,
    state_dim,
    rank,
    no_fold,
    node_cap,
    timeout,
    title,
):
    """Draw the circuit of a model as an SVG, PNG, PDF or DOT file.

    Gate level ranks gates by depth, shapes and colours them by opcode and marks a
    longest input-to-output path in red. Block level draws one node per step,
    combine, apply or readout block. Examples:
    `circuitlab render --model elman --n 8 -o elman.svg`,
    `circuitlab render --compare elman pd --n 16 -o cmp.svg`.
    """
    n = parse_n(n)
    chosen_format = output_format(output, output_type)
    plan = _plan(model, compare, list(strategies))
    circuits = [
        _compile(name, strategy, n, free, state_dim, rank, outputs, no_fold)
        for name, strategy in plan
    ]
    options = {
        "level": level,
        "format": chosen_format,
        "node_cap": node_cap,
        "timeout": timeout,
        "title": title,
    }
    if len(circuits) == 1:
        result = render_circuit(circuits[0], Path(output), **options)
    else:
        result = render_comparison(circuits, Path(output), **options)
    _report(result)
