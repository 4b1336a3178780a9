"""``calib demo``: the end-to-end job on shipped data (see :mod:`calib.studies.demo`).

Examples
--------
>>> callable(register)
True
"""

from pathlib import Path
from typing import Annotated

import typer

from calib.cli.commands._io import dumps


def register(app: typer.Typer) -> None:
    """Register ``demo`` on the ``calib`` app."""

    @app.command("demo")
    def demo(
        steps: Annotated[list[str] | None, typer.Option(
            "--step", help="run only these steps (repeatable); default all")] = None,
        as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
        out_dir: Annotated[Path, typer.Option(
            "--out-dir", help="folder of the written files (report.html)")] = Path("out"),
        overwrite: Annotated[bool, typer.Option(
            "--overwrite", help="replace existing files in --out-dir; without it only the "
            "files the demo wrote there before (listed in .calib-demo.json) are replaced")
        ] = False,
    ) -> None:
        """Rake a shipped survey to census targets, print diagnostics and weighted estimates."""
        from calib.studies.demo import run

        results = run(steps=steps, as_json=as_json, echo=typer.echo, out_dir=out_dir,
                      overwrite=overwrite)
        if as_json:
            typer.echo(dumps(results))


__all__ = ["register"]
