"""``calib forecast ESTIMATES --year YEAR --out FORECAST.json``: electoral-college forecast.

ESTIMATES (CSV or Parquet) is the output of ``calib estimate`` / ``mrp`` / ``hybrid`` with
``--by state`` (the ``domain`` column holds the state), a plain table with ``state``,
``estimate`` and ``se``, or long draws (``domain`` or ``state``, ``draw``, ``estimate``).
Estimates are the Democratic two-party share unless ``--republican``. FORECAST.json holds per
state P(D win), the EV distribution summary, P(D win overall) and the popular vote.

Examples
--------
>>> import tempfile, pathlib, pandas as pd
>>> from calib.data.variables import STATES
>>> d = pathlib.Path(tempfile.mkdtemp())
>>> pd.DataFrame({"state": STATES, "estimate": 0.6, "se": 0.01}).to_csv(d / "e.csv", index=False)
>>> f = run(d / "e.csv", 2024, d / "f.json", seed=1, draws=500)
>>> f.p_dem_win
1.0
"""

from pathlib import Path
from typing import Annotated, Any

import typer

from calib.cli.commands._io import dumps, read_frame, to_numeric
from calib.core.errors import DataError
from calib.data.output import check_target


def run(
    estimates: Path,
    year: int,
    out: Path | None,
    *,
    republican: bool = False,
    national_sd: float = 0.02,
    draws: int = 20000,
    seed: int | None = None,
    level: float = 0.9,
    fill_missing: str | None = None,
    overwrite: bool = False,
) -> Any:
    """Read ESTIMATES, simulate the electoral college, write FORECAST.json."""
    from calib.election import forecast
    from calib.election.forecast import check_simulation

    check_simulation(national_sd, draws)  # before reading anything
    if out is not None:
        if out.suffix.lower() != ".json":
            raise DataError(f"--out {str(out)!r}: the forecast is written as JSON; use a .json path")
        check_target(out, overwrite, "--out", kind=None, inputs=[estimates])
    frame = read_frame(estimates, "ESTIMATES")
    for col in ("estimate", "se", "draw"):
        if col in frame.columns:  # a decimal comma ("0,55") is named, with its row
            frame[col] = to_numeric(frame, col, f"ESTIMATES column {col!r} (use a decimal "
                                    "point)")
    f = forecast(frame, year, republican=republican, national_sd=national_sd, draws=draws,
                 seed=seed, level=level, fill_missing=fill_missing)
    if out is not None:
        f.write(out, overwrite=overwrite)
    return f


def register(app: typer.Typer) -> None:
    """Register ``calib forecast``."""

    @app.command("forecast")
    def forecast_cmd(
        estimates: Annotated[Path, typer.Argument(help="state estimates: CSV or Parquet")],
        year: Annotated[int, typer.Option("--year", help="election year (electoral votes)")],
        out: Annotated[Path, typer.Option("--out", help="FORECAST.json to write")],
        republican: Annotated[bool, typer.Option(
            "--republican", help="estimates are the Republican two-party share")] = False,
        national_sd: Annotated[float, typer.Option(
            "--national-sd", help="sd of the national swing shared by all states (>= 0)")] = 0.02,
        draws: Annotated[int, typer.Option(
            "--draws", help="simulations, 1 to 1,000,000")] = 20000,
        seed: Annotated[int | None, typer.Option("--seed", help="random seed")] = None,
        level: Annotated[float, typer.Option("--level", help="interval level")] = 0.9,
        fill_missing: Annotated[str | None, typer.Option(
            "--fill-missing",
            help="'previous': fill missing states (e.g. DC) with the previous certified "
                 "result and a wide se (reported)")] = None,
        overwrite: Annotated[bool, typer.Option("--overwrite")] = False,
        as_json: Annotated[bool, typer.Option("--json", help="print the summary as JSON")] = False,
    ) -> None:
        """Simulate the electoral college from state estimates (correlated by a national swing).

        Writes per-state P(D win), the EV distribution, P(D win overall) and the popular vote.
        """
        f = run(estimates, year, out, republican=republican, national_sd=national_sd,
                draws=draws, seed=seed, level=level, fill_missing=fill_missing,
                overwrite=overwrite)
        summary = {"year": f.year, "p_dem_win": f.p_dem_win, "p_tie": f.p_tie,
                   "electoral_votes": {k: v for k, v in f.ev_summary().items() if k != "histogram"},
                   "popular_vote": f.popular_vote(), "filled": f.options["filled"], "out": str(out)}
        if as_json:
            typer.echo(dumps(summary))
            return
        ev = summary["electoral_votes"]
        typer.echo(f"{year}: P(D win) = {f.p_dem_win:.3f}  P(tie) = {f.p_tie:.3f}")
        typer.echo(f"Democratic EV: mean {ev['mean']:.1f}, {int(level * 100)}% interval "
                   f"[{ev['ci_low']:.0f}, {ev['ci_high']:.0f}]")
        pv = summary["popular_vote"]
        typer.echo(f"Popular vote (D two-party): {pv['dem_two_party_share']:.4f} "
                   f"[{pv['ci_low']:.4f}, {pv['ci_high']:.4f}]")
        if f.options["filled"]:
            typer.echo(f"filled from the previous election: {f.options['filled']}")
        typer.echo(f"wrote {out}")
