"""The ``calib`` command line.

Conventions every command follows: CSV or Parquet by extension (read and write); ``--json``
for machine-readable output; exit codes 0 ok, 2 bad input (:class:`calib.CalibError` and
usage errors), 3 failed diagnostics or non-convergence
(:class:`~calib.core.errors.ConvergenceError`, :class:`~calib.core.errors.DiagnosticsError`); errors
print as one line (a traceback only with ``calib --debug ...``); an existing output file is
never replaced without ``--overwrite``. Heavy libraries (PyMC, cvxpy, matplotlib) are imported
inside the commands that need them, so ``calib --help`` is fast. Commands live in
:mod:`calib.cli.commands`, one module each.

Examples
--------
>>> main(["--version"])
calib 0.1.0
0
"""

from __future__ import annotations

import sys
import warnings
from collections.abc import Sequence
from typing import Any

import click
import typer
from typer.core import TyperGroup

from calib import __version__
from calib.cli.commands import COMMANDS, HELP, register
from calib.core.errors import CalibError
from calib.core.optional import install_hint, missing_extra


class LazyGroup(TyperGroup):
    """The ``calib`` group: a command's module is imported when the command runs (or shows its
    own ``--help``); the top-level help lists every command from
    :data:`calib.cli.commands.HELP` with a stand-in, so ``calib --help`` imports none of them
    (nor pandas, numpy and what they pull in)."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        order = [n for m in COMMANDS for n, (mod, _) in HELP.items() if mod == m]
        return order + [n for n in self.commands if n not in order]

    def get_command(self, ctx: Any, cmd_name: str) -> Any:  # typer's and click's Command types differ
        cmd = self.commands.get(cmd_name)
        if cmd is None and cmd_name in HELP:  # listed in the help: a stand-in with its text
            return click.Command(cmd_name, help=HELP[cmd_name][1])
        return cmd

    def resolve_command(self, ctx: Any, args: list[str]) -> Any:
        if args and args[0] in HELP and args[0] not in self.commands:
            self.load(args[0])
        return super().resolve_command(ctx, args)

    def load(self, name: str) -> None:
        """Import command ``name``'s module and add its commands."""
        sub = typer.Typer()
        register(sub, name)
        self.commands.update(typer.main.get_group(sub).commands)


app = typer.Typer(
    cls=LazyGroup,
    name="calib",
    help="Weight, calibrate and model LLM persona sets as a biased survey sample.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
_state = {"debug": False}


def _version(value: bool) -> None:
    if value:
        typer.echo(f"calib {__version__}")
        raise typer.Exit(0)


@app.callback()
def _root(
    version: bool = typer.Option(  # noqa: B008 - typer idiom
        False, "--version", callback=_version, is_eager=True, help="print the version and exit"
    ),
    debug: bool = typer.Option(  # noqa: B008
        False, "--debug", help="show the full traceback on errors"
    ),
) -> None:
    """calib: composition-bias correction (weighting, calibration) and estimation with honest
    uncertainty for LLM persona sets. Exit codes: 0 ok, 2 bad input, 3 failed diagnostics or
    non-convergence."""
    _state["debug"] = debug



def _one_line(err: BaseException) -> str:
    text = " ".join(str(err).split())
    return f"error: {text or type(err).__name__}"


def _one_line_warning(message, category, filename, lineno, file=None, line=None) -> None:
    text = " ".join(str(message).split())
    typer.echo(f"warning: {text}", err=True)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit code (and exits with it when run as ``calib``).

    Parameters
    ----------
    argv : arguments without the program name (default ``sys.argv[1:]``).
    """
    args = list(sys.argv[1:] if argv is None else argv)
    _state["debug"] = "--debug" in args[:1] or _state["debug"]
    shown = warnings.showwarning
    if not _state["debug"]:  # warnings (rows dropped, mixed universes ...) as one line each
        warnings.showwarning = _one_line_warning
    try:
        app(args=args, prog_name="calib", standalone_mode=True)
        code = 0
    except SystemExit as exc:  # typer: --help, --version, usage errors (2), typer.Exit
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except CalibError as exc:
        if _state["debug"]:
            raise
        typer.echo(_one_line(exc), err=True)
        code = exc.exit_code
    except (KeyboardInterrupt, BrokenPipeError):
        code = 130
    except Exception as exc:  # a bug, not bad input: one line, the traceback with --debug
        if _state["debug"]:
            raise
        code = 1
        if isinstance(exc, ImportError) and missing_extra(exc):
            # an optional module imported outside calib.core.optional.require: bad setup,
            # not a bug; name the fix
            typer.echo(f"error: {install_hint(exc.name or '', 'this command')}", err=True)
            code = 2
        else:
            typer.echo(f"internal {_one_line(exc)} ({type(exc).__name__}; rerun with "
                       "calib --debug ... for the traceback and please report it)", err=True)
    finally:
        warnings.showwarning = shown
    if argv is None:
        sys.exit(code)
    return code


__all__ = ["app", "main"]
