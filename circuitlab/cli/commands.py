"""The core commands: ``compile``, ``eval``, ``models`` and ``info``."""

from __future__ import annotations

import json
import sys
import time

import click
import numpy as np
from rich.console import Console
from rich.table import Table

from circuitlab.cli.options import (
    check_writable,
    compile_options,
    make_progress,
    model_options,
    parse_n,
    resolve_model,
    resolve_strategy,
)
from circuitlab.errors import CircuitlabError, EvaluationError

__all__ = ["COMMANDS"]


def _stats_table(stats: dict, meta: dict, seconds: float | None) -> Table:
    table = Table(
        title=f"{meta.get('model')}: {meta.get('strategy')}, n = {meta.get('n')}"
    )
    table.add_column("metric")
    table.add_column("value", justify="right")
    table.add_column("unit")
    by_op = ", ".join(
        f"{name} {count:,}" for name, count in sorted(stats["size_by_op"].items())
    )
    rows = [
        ("family", str(meta.get("family")), ""),
        ("state size D", str(meta.get("state_dim")), "coordinates"),
        ("outputs", str(meta.get("outputs")), "final state or all prefixes"),
        ("size", f"{stats['size']:,}", "gates"),
        (
            "live size",
            "not checked"
            if stats.get("live_size") is None
            else f"{stats['live_size']:,}",
            "gates some output depends on",
        ),
        ("size by opcode", by_op, "gates"),
        ("depth", f"{stats['depth']:,}", "gates on the longest path"),
        (
            "nonlinear depth",
            f"{stats['nonlinear_depth']:,}",
            "nonlinear gates on a path",
        ),
        (
            "fan-in max / mean",
            f"{stats['max_fanin']} / {stats['mean_fanin']:.2f}",
            "operands",
        ),
        (
            "fan-out max / mean",
            f"{stats['max_fanout']} / {stats['mean_fanout']:.2f}",
            "readers",
        ),
        ("max width", f"{stats['max_width']:,}", "gates at one depth"),
        (
            "inputs / constants",
            f"{stats['inputs']:,} / {stats['constants']:,}",
            "nodes",
        ),
    ]
    if "depth_lower_bound" in stats:
        rows.append(
            (
                "fan-in-2 lower bound",
                f"{stats['depth_lower_bound']}",
                f"levels (ceil log2 of {stats['support']:,} inputs)",
            )
        )
    rows.append(("constant folding", "on" if stats["folding"] else "off", ""))
    if meta.get("pd_combine"):
        rows.append(("PD combine", meta["pd_combine"], ""))
    rows.append(("memory", f"{stats['bytes'] / 2**20:,.1f}", "MiB in IR arrays"))
    if seconds is not None:
        rows.append(("compile time", f"{seconds:.3f}", "seconds"))
    for row in rows:
        table.add_row(*row)
    return table


@click.command("compile")
@model_options
@compile_options
@click.option(
    "--json", "as_json", is_flag=True, help="Print the metrics as JSON on stdout."
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False),
    help="Save the circuit to this .npz file (arrays plus JSON metadata).",
)
@click.option(
    "--no-support",
    is_flag=True,
    help="Skip the input-support search (faster on huge circuits).",
)
@click.option(
    "--formula",
    is_flag=True,
    help="Also print exact closed forms depth(n) and size(n).",
)
def compile_command(
    model,
    free,
    state_dim,
    rank,
    n,
    strategy,
    outputs,
    no_fold,
    pd_combine,
    max_memory,
    as_json,
    out,
    no_support,
    formula,
):
    """Unroll a model over N positions into a circuit and print its metrics.

    Sizes are in gates, depths in gates on the longest input-to-output path. Example:
    `circuitlab compile --model pd --n 64`.
    """
    from circuitlab.analysis.metrics import circuit_stats
    from circuitlab.circuit.io import save_circuit
    from circuitlab.compile import compile_model

    n = parse_n(n)
    built = resolve_model(model, free, state_dim, rank)
    strategy = resolve_strategy(built, strategy)
    if out:
        check_writable(out)
    start = time.perf_counter()
    with make_progress(disable=as_json) as progress:
        circuit = compile_model(
            built,
            n,
            strategy,
            outputs=outputs,
            fold=not no_fold,
            pd_combine=pd_combine,
            max_bytes=None if max_memory is None else int(max_memory * 2**30),
            progress=progress,
        )
    seconds = time.perf_counter() - start
    stats = circuit_stats(circuit, support=not no_support)
    formulas = (
        _formulas(built, strategy, outputs, not no_fold, pd_combine)
        if formula
        else None
    )
    if out:
        save_circuit(circuit, out)
    if as_json:
        document = {"meta": circuit.meta, "stats": stats, "compile_seconds": seconds}
        if formulas is not None:
            document["formula"] = formulas
        click.echo(json.dumps(document, indent=2, default=str))
        return
    console = Console()
    console.print(_stats_table(stats, circuit.meta, seconds))
    if formulas is not None:
        for name, expression in formulas.items():
            console.print(f"{name}(n) = {expression}")
    if out:
        console.print(f"saved circuit to {out}")


def _formulas(model, strategy, outputs, fold, pd_combine):
    try:
        from circuitlab.analysis.formulas import family_formulas
    except ModuleNotFoundError:
        raise CircuitlabError("--formula is not available in this build") from None
    found = family_formulas(
        model, strategy, outputs=outputs, fold=fold, pd_combine=pd_combine
    )
    return {name: str(expression) for name, expression in found.items()}


@click.command("eval")
@model_options
@click.option(
    "--input",
    "text",
    help="Tokens: characters ('abba') or space-separated ('a b b a').",
)
@click.option(
    "--input-file",
    type=click.Path(exists=True, dir_okay=False),
    help="Read the tokens from a file.",
)
@click.option(
    "--seed",
    type=int,
    default=0,
    show_default=True,
    help="Seed for random inputs of --free models.",
)
@click.option(
    "--n",
    "n",
    default=None,
    help="Number of positions for --free models (random inputs).",
)
@click.option(
    "--strategy",
    default=None,
    help="Unrolling strategy (default: tree for linear, chain for nonlinear).",
)
@click.option(
    "--domain",
    type=click.Choice(["Q", "float", "Zm"]),
    default="Q",
    show_default=True,
    help="Evaluation domain: exact rationals, float64, or integers mod --modulus.",
)
@click.option("--modulus", type=int, default=None, help="Modulus m for --domain Zm.")
@click.option(
    "--check",
    is_flag=True,
    help="Compare the circuit with the token-by-token reference exactly; exit 1 on mismatch.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def eval_command(
    model,
    free,
    state_dim,
    rank,
    text,
    input_file,
    seed,
    n,
    strategy,
    domain,
    modulus,
    check,
    as_json,
):
    """Evaluate a model's circuit on an input and print the readout and acceptance.

    The readout is y = <h_n, w> + bias; the input is accepted iff y > 0.
    """
    from circuitlab.compile import compile_model
    from circuitlab.evaluate import evaluate

    built = resolve_model(model, free, state_dim, rank)
    strategy = resolve_strategy(built, strategy)
    if modulus is not None and domain != "Zm":
        raise EvaluationError("--modulus applies only with --domain Zm")
    if built.has_readout and n is not None:
        raise EvaluationError(
            "--n applies only to --free models; a spec model reads its length from --input"
        )
    if not built.has_readout and (text is not None or input_file):
        raise EvaluationError(
            "a --free model has no alphabet; drop --input and give --n for random inputs"
        )
    if built.has_readout:
        if input_file and text is not None:
            raise EvaluationError(
                "give the tokens with --input or --input-file, not both"
            )
        if input_file:
            try:
                with open(input_file, encoding="utf-8") as handle:
                    text = handle.read()
            except UnicodeDecodeError:
                raise EvaluationError(
                    f"{input_file} is not UTF-8 text; write the tokens as text"
                ) from None
        if text is None:
            raise EvaluationError("give the tokens with --input or --input-file")
        tokens = built.tokenize(text)
        inputs = built.encode(tokens)
        reference_input = tokens
        length = len(tokens)
    else:
        length = parse_n(n if n is not None else "8")
        inputs = built.random_inputs(length, np.random.default_rng(seed))
        reference_input = inputs
    outputs = "final"
    circuit = compile_model(built, length, strategy, outputs=outputs)
    values = evaluate(circuit, inputs, domain=domain, modulus=modulus)
    result = {
        "model": built.name,
        "strategy": strategy,
        "n": length,
        "domain": domain,
        "state": [str(v) for v in values["state"][-1]],
    }
    if "readout" in values:
        result["readout"] = str(values["readout"][0])
        result["accept"] = bool(values["accept"][0] > 0)
    status = 0
    if check:
        status = _check_against_reference(
            built, circuit, values, reference_input, domain, modulus, result
        )
    if as_json:
        click.echo(json.dumps(result, indent=2))
    else:
        for key, value in result.items():
            click.echo(f"{key}: {value}")
    if status:
        sys.exit(status)


def _check_against_reference(
    model, circuit, values, reference_input, domain, modulus, result
) -> int:
    reference = model.reference_states(reference_input)
    expected = reference[-1]
    got = values["state"][-1]
    if domain == "Q":
        same = all(a == b for a, b in zip(got, expected))
    elif domain == "Zm":
        same = all(
            (int(a) - int(b.numerator) * pow(int(b.denominator), -1, modulus)) % modulus
            == 0
            for a, b in zip(got, expected)
        )
    else:
        same = all(
            abs(float(a) - float(b)) <= 1e-9 * max(1.0, abs(float(b)))
            for a, b in zip(got, expected)
        )
    if model.has_readout and same:
        y, accepted = model.reference_readout(expected)
        if domain == "Q":
            same = (
                values["readout"][0] == y and bool(values["accept"][0] > 0) == accepted
            )
    result["check"] = (
        "circuit equals reference" if same else "MISMATCH between circuit and reference"
    )
    result["reference_state"] = [str(v) for v in expected]
    return 0 if same else 1


@click.command("models")
@click.option("--json", "as_json", is_flag=True, help="Print the list as JSON.")
def models_command(as_json):
    """List the shipped model specs."""
    from circuitlab.spec import load_spec, shipped_specs

    rows = []
    for name, path in shipped_specs().items():
        spec = load_spec(path)
        rows.append(
            {
                "name": name,
                "family": spec.family,
                "state_dim": spec.state_dim,
                "alphabet": list(spec.alphabet),
                "description": spec.description,
            }
        )
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    table = Table(title="shipped models (rnn_specs/)")
    for column in ("name", "family", "D", "alphabet", "description"):
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(
            row["name"],
            row["family"],
            str(row["state_dim"]),
            " ".join(row["alphabet"]),
            row["description"],
        )
    Console().print(table)


@click.command("info")
@click.argument("path", type=click.Path(dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print the metrics as JSON.")
def info_command(path, as_json):
    """Load a circuit saved with `compile --out` and print its metrics."""
    from circuitlab.analysis.metrics import circuit_stats
    from circuitlab.circuit.io import load_circuit

    circuit = load_circuit(path)
    stats = circuit_stats(circuit)
    if as_json:
        click.echo(
            json.dumps({"meta": circuit.meta, "stats": stats}, indent=2, default=str)
        )
        return
    Console().print(_stats_table(stats, circuit.meta, None))


COMMANDS = (compile_command, eval_command, models_command, info_command)
