"""``calib run study.toml``: a forecasting pipeline or comparison study as one command.

The TOML names the personas (file + codebook, or a simulated study with a seed), the human
benchmark, outcome, methods, benchmark, forecast settings and outputs; see
:mod:`calib.studies.pipeline` for the format.

Examples
--------
>>> import tempfile, pathlib
>>> d = pathlib.Path(tempfile.mkdtemp())
>>> _ = (d / "s.toml").write_text('''
... [personas]
... simulate = { year = 2024, per_state = 40, human_n = 0, seed = 2 }
... persona_type = "meta"
... [analysis]
... methods = ["raw"]
... variables = ["age6"]
... ''')
>>> res = run(d / "s.toml")
>>> res.table()["method"].tolist()
['raw']
"""

from pathlib import Path
from typing import Annotated, Any

import typer

from calib.cli.commands._io import dumps, frame_records


def run(study: Path, overwrite: bool = False, out_dir: Path | None = None,
        bar: bool | None = False) -> Any:
    """Load and run a study file (``bar``: progress bar over the methods, see
    :func:`calib.studies.pipeline.run_study`)."""
    from calib.studies.pipeline import load_study, run_study

    cfg = load_study(study)
    if out_dir is not None:
        cfg.setdefault("outputs", {})["dir"] = str(out_dir)
    if overwrite:
        cfg.setdefault("outputs", {})["overwrite"] = True
    return run_study(cfg, bar=bar)


def register(app: typer.Typer) -> None:
    """Register ``calib run``."""

    @app.command("run")
    def run_cmd(
        study: Annotated[Path, typer.Argument(help="study TOML (see docs/cli.md)")],
        out_dir: Annotated[Path | None, typer.Option("--out-dir", help="override [outputs] dir")] = None,
        overwrite: Annotated[bool, typer.Option("--overwrite")] = False,
        as_json: Annotated[bool, typer.Option("--json", help="print the summary as JSON")] = False,
    ) -> None:
        """Run a study file: personas -> methods -> forecasts -> backtests -> outputs."""
        res = run(study, overwrite, out_dir, bar=None)
        table = res.table()
        if as_json:
            typer.echo(dumps({"summary": frame_records(table), "outputs": res.outputs}))
            return
        cols = [c for c in ["method", "rmse", "bias", "coverage", "winners_correct",
                            "bt_ev_error", "seconds", "status"] if c in table.columns]
        typer.echo(table[cols].to_string(index=False, float_format=lambda x: f"{x:.4f}"))
        for k, v in res.outputs.items():
            typer.echo(f"wrote {k}: {v}")
