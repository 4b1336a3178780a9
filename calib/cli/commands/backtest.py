"""``calib backtest FORECAST.json --year YEAR [--json OUT.json]``: metrics vs certified results.

Prints and (with ``--json``) writes the metrics with keys ``rmse``, ``bias``,
``winners_correct``, ``states``, ``brier``, ``log_score``, ``ev_error``, ``coverage``.

Examples
--------
>>> import tempfile, pathlib, pandas as pd
>>> from calib.data.datasets import election_results
>>> from calib.election import forecast
>>> r = election_results(2020)
>>> est = pd.DataFrame({"state": r["state_po"], "estimate": r["dem_two_party_share"], "se": 1e-6})
>>> p = pathlib.Path(tempfile.mkdtemp()) / "f.json"
>>> _ = forecast(est, 2020, national_sd=0.0, draws=200, seed=0).write(p)
>>> run(p, 2020)["winners_correct"]
51
"""

from pathlib import Path
from typing import Annotated

import typer

from calib.cli.commands._io import dumps
from calib.core.errors import DataError
from calib.data.output import check_target, write_text

KEYS = ("rmse", "bias", "winners_correct", "states", "brier", "log_score", "ev_error", "coverage")


def run(forecast: Path, year: int, out: Path | None = None, overwrite: bool = False) -> dict:
    """Backtest FORECAST.json against the certified results of ``year``."""
    from calib.election import backtest

    if not Path(forecast).exists():
        raise DataError(f"FORECAST {str(forecast)!r} does not exist")
    if out is not None:
        check_target(out, overwrite, "--json", kind=None, inputs=[forecast])
    m = backtest(forecast, year)
    if out is not None:
        write_text(dumps(m), out, overwrite=overwrite, what="--json")
    return m


def register(app: typer.Typer) -> None:
    """Register ``calib backtest``."""

    @app.command("backtest")
    def backtest_cmd(
        forecast: Annotated[Path, typer.Argument(help="FORECAST.json from calib forecast")],
        year: Annotated[int, typer.Option("--year", help="year of the certified results")],
        json_out: Annotated[Path | None, typer.Option("--json", help="write the metrics here")] = None,
        overwrite: Annotated[bool, typer.Option("--overwrite")] = False,
    ) -> None:
        """Score a forecast against certified results: RMSE and bias of the D two-party share,
        winners called, Brier and log score of P(D win), EV error, interval coverage."""
        m = run(forecast, year, json_out, overwrite)
        for k in KEYS:
            v = m[k]
            typer.echo(f"{k:>16}: {v:.4f}" if isinstance(v, float) else f"{k:>16}: {v}")
        if json_out is not None:
            typer.echo(f"wrote {json_out}")
