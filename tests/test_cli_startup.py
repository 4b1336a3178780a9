"""``calib --help`` and ``calib targets list`` start without pandas or numpy (issue 19): the
command modules load when their command runs, and the help lists them from
``calib.cli.commands.HELP``, which must say what the commands themselves say."""

import subprocess
import sys

import typer

from calib.cli.commands import COMMANDS, HELP, register_all
from calib.cli.main import main

LIGHT = ("pandas", "numpy", "scipy", "numba", "pyarrow", "duckdb", "pymc", "cvxpy")


def _loaded_after(code: str) -> list[str]:
    probe = f"import sys; {code}; print('LOADED', [m for m in {LIGHT!r} if m in sys.modules])"
    r = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    line = next(x for x in r.stdout.splitlines() if x.startswith("LOADED"))
    return eval(line.removeprefix("LOADED "))  # noqa: S307 - our own list literal


def test_import_calib_cli_imports_no_pandas_or_numpy():
    assert _loaded_after("import calib.cli") == []


def test_help_and_targets_list_import_no_pandas_or_numpy():
    run = "from calib.cli.main import main; main({!r})"
    assert _loaded_after(run.format(["--help"])) == []
    assert _loaded_after(run.format(["targets", "list"])) == []
    assert _loaded_after(run.format(["targets", "list", "--json"])) == []


def test_help_table_matches_the_commands():
    app = typer.Typer()
    register_all(app)
    real = typer.main.get_group(app).commands
    assert set(real) == set(HELP)
    assert {mod for mod, _ in HELP.values()} == set(COMMANDS)
    for name, cmd in real.items():
        first = (cmd.help or "").split("\n\n")[0]
        assert " ".join(first.split()) == HELP[name][1], name


def test_every_command_runs_through_the_lazy_group(capsys):
    for name in HELP:
        assert main([name, "--help"]) == 0, name
    out = capsys.readouterr().out
    assert "--targets" in out and "list" in out
    assert main(["--help"]) == 0
    listing = capsys.readouterr().out
    assert all(name in listing for name in HELP)
