"""Command-line interface: ``circuitlab COMMAND --help`` documents each command.

Every error that comes from bad input (a :class:`~circuitlab.errors.CircuitlabError`
or a click usage error) is printed as one line ``error: ...`` on stderr with exit
status 2; no traceback is shown.
"""

from __future__ import annotations

import logging
import sys

import click

from circuitlab.errors import CircuitlabError

__all__ = ["main", "cli"]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "-v", "--verbose", count=True, help="Log more (-v info, -vv debug) on stderr."
)
@click.version_option(package_name="circuitlab")
def cli(verbose: int) -> None:
    """Compile recurrent networks into circuits, measure them and check claims.

    Start with `circuitlab models` and `circuitlab compile --model pd --n 64`.
    """
    level = (
        logging.WARNING
        if verbose == 0
        else logging.INFO
        if verbose == 1
        else logging.DEBUG
    )
    logging.basicConfig(
        level=level, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr
    )


def _register() -> None:
    from circuitlab.cli import commands

    for command in commands.COMMANDS:
        cli.add_command(command)
    optional = (
        ("circuitlab.cli.render", "render_command"),
        ("circuitlab.cli.formula", "formula_command"),
        ("circuitlab.cli.sweep", "sweep_command"),
        ("circuitlab.cli.check", "check_command"),
        ("circuitlab.cli.constructions", "reduce_command"),
        ("circuitlab.cli.constructions", "verify_command"),
    )
    import importlib

    for module_name, attribute in optional:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as error:
            if error.name != module_name:
                raise
            continue
        if hasattr(module, attribute):
            cli.add_command(getattr(module, attribute))


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; return the exit status (0 ok, 1 a check failed, 2 bad input)."""
    _register()
    try:
        result = cli.main(args=argv, prog_name="circuitlab", standalone_mode=False)
    except click.exceptions.Exit as done:
        return done.exit_code
    except click.exceptions.NoArgsIsHelpError as error:
        # A bare `circuitlab` or `circuitlab reduce`: show the help as click would.
        click.echo(
            error.ctx.get_help() if error.ctx is not None else error.format_message()
        )
        return 0
    except click.UsageError as error:
        message = error.format_message().replace("\n", " ")
        hint = ""
        if error.ctx is not None:
            hint = f" (see `{error.ctx.command_path} --help`)"
        click.echo(f"error: {message}{hint}", err=True)
        return 2
    except click.ClickException as error:
        click.echo(f"error: {error.format_message()}", err=True)
        return error.exit_code
    except CircuitlabError as error:
        click.echo(f"error: {error}", err=True)
        return 2
    except UnicodeDecodeError:
        click.echo("error: an input file is not UTF-8 text; give a text file", err=True)
        return 2
    except click.Abort:
        click.echo("error: aborted", err=True)
        return 130
    except KeyboardInterrupt:
        click.echo("error: interrupted", err=True)
        return 130
    except MemoryError:
        click.echo(
            "error: out of memory; choose a smaller n or a lower --max-memory budget",
            err=True,
        )
        return 2
    return result if isinstance(result, int) else 0


def entry_point() -> None:
    sys.exit(main())
