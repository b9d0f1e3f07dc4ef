"""The ``check`` command: test the claims of a claims file on real circuits."""

from __future__ import annotations

import json

import click
from rich.console import Console
from rich.table import Table

from circuitlab.analysis.claims import check_claims, load_claims, summarize
from circuitlab.analysis.sweep import default_jobs
from circuitlab.cli.options import make_progress

__all__ = ["check_command"]

_STYLES = {"PASS": "green", "FAIL": "bold red", "INCONCLUSIVE": "yellow"}


def _table(results) -> Table:
    table = Table(title="claims")
    table.add_column("#", justify="right")
    table.add_column("claim", overflow="fold")
    table.add_column("verdict")
    table.add_column("reason", overflow="fold")
    for result in results:
        verdict = f"[{_STYLES[result.verdict]}]{result.verdict}[/]"
        table.add_row(
            str(result.claim.index), result.claim.statement, verdict, result.reason
        )
    return table


def _summary_line(counts: dict[str, int]) -> str:
    line = f"{counts['PASS']} passed, {counts['FAIL']} failed, {counts['INCONCLUSIVE']} inconclusive"
    if counts["INCONCLUSIVE"] and not counts["FAIL"]:
        line += " (inconclusive claims are not failures: give them more or larger n to decide)"
    return line


@click.command("check")
@click.argument("claims_file", type=click.Path(dir_okay=False))
@click.option(
    "--jobs",
    "-j",
    type=click.IntRange(min=1),
    default=None,
    help="Worker processes (default: min(2, CPU count)); 1 runs in this process.",
)
@click.option(
    "--json", "as_json", is_flag=True, help="Print the verdicts and evidence as JSON."
)
@click.pass_context
def check_command(ctx, claims_file, jobs, as_json):
    """Check the claims of CLAIMS_FILE; exit status 1 if any claim fails.

    Each claim gets PASS, FAIL or INCONCLUSIVE with the reason (docs/claims.md
    describes the file format and how verdicts are reached).
    """
    claims = load_claims(claims_file)
    with make_progress() as progress:
        results = check_claims(
            claims, jobs=jobs if jobs is not None else default_jobs(), progress=progress
        )
    counts = summarize(results)
    if as_json:
        document = {
            "file": claims_file,
            "summary": counts,
            "claims": [result.as_dict() for result in results],
        }
        click.echo(json.dumps(document, indent=2, default=str))
    else:
        Console().print(_table(results))
        click.echo(_summary_line(counts))
    if counts["FAIL"]:
        ctx.exit(1)
