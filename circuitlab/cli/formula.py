"""The ``formula`` command: exact size and depth formulas, and their verification."""

from __future__ import annotations

import json

import click
from rich.console import Console
from rich.table import Table

from circuitlab.cli.options import model_options, resolve_model, resolve_strategy

__all__ = ["formula_command"]


@click.command("formula")
@model_options
@click.option(
    "--strategy",
    "-s",
    default=None,
    help="chain, tree, serial, sklansky, kogge-stone, brent-kung or ladner-fischer "
    "(default: tree for linear models, chain for nonlinear ones).",
)
@click.option(
    "--outputs",
    type=click.Choice(["final", "all"]),
    default="final",
    show_default=True,
    help="Formulas for circuits that emit only h_n, or every prefix state h_1..h_n.",
)
@click.option(
    "--no-fold",
    is_flag=True,
    help="Formulas for circuits built without constant folding.",
)
@click.option(
    "--pd-combine",
    type=click.Choice(["structured", "monomial"]),
    default="structured",
    show_default=True,
    help="How PD maps compose (as for `circuitlab compile`).",
)
@click.option(
    "--verify",
    is_flag=True,
    help="Build the circuit for every n <= --max-n and compare; exit 1 on a mismatch.",
)
@click.option(
    "--max-n",
    type=click.IntRange(min=1),
    default=64,
    show_default=True,
    help="Largest number of positions n that --verify builds.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.pass_context
def formula_command(
    ctx,
    model,
    free,
    state_dim,
    rank,
    strategy,
    outputs,
    no_fold,
    pd_combine,
    verify,
    max_n,
    as_json,
):
    """Print exact formulas size(n) and depth(n) of a circuit family.

    The formulas are derived from the structure of the compiled circuits (one
    combine, apply and readout built once), not fitted to measurements. Size is
    in gates, depths in gates (or nonlinear gates) on the longest path. With
    --verify, every n up to --max-n is compiled and compared exactly. Example:
    `circuitlab formula --model dense --free --state-dim 4 --strategy tree`.
    """
    from circuitlab.analysis.formulas import family_formulas, verify_family_formulas

    built = resolve_model(model, free, state_dim, rank)
    strategy = resolve_strategy(built, strategy)
    options = {"outputs": outputs, "fold": not no_fold, "pd_combine": pd_combine}
    formulas = family_formulas(built, strategy, **options)
    mismatches = None
    if verify:
        mismatches = verify_family_formulas(
            built, strategy, max_n, formulas=formulas, **options
        )
    if as_json:
        document = {
            "model": built.name,
            "strategy": strategy,
            **options,
            "formulas": {name: str(expr) for name, expr in formulas.items()},
        }
        if mismatches is not None:
            document["max_n"] = max_n
            document["mismatches"] = [vars(m) for m in mismatches]
        click.echo(json.dumps(document, indent=2))
    else:
        click.echo(f"{built.name}, strategy {strategy}, outputs {outputs}:")
        for name, expr in formulas.items():
            click.echo(f"{name}(n) = {expr}")
        if mismatches is not None:
            _print_verification(mismatches, max_n)
    if mismatches:
        ctx.exit(1)


def _print_verification(mismatches, max_n: int) -> None:
    if not mismatches:
        click.echo(f"all {max_n} values match")
        return
    table = Table(title=f"{len(mismatches)} mismatches for n <= {max_n}")
    for column in ("n", "quantity", "formula", "circuit"):
        table.add_column(column, justify="right" if column != "quantity" else "left")
    for mismatch in mismatches:
        table.add_row(
            str(mismatch.n),
            mismatch.quantity,
            str(mismatch.formula_value),
            str(mismatch.measured_value),
        )
    Console().print(table)
