"""``calib mrp``: multilevel regression and poststratification on cells (PyMC).

``calib mrp INPUT --outcome COL --frame FRAME --frame-count COL --group COL [--group COL ...]
[--domain-predictors FILE] --by COL --out OUTPUT.csv [--draws-out FILE]
[--sampler pymc|nutpie] [--seed N] [--level 0.95]``

FRAME is a cell table whose columns carry the same names and levels as the group columns; a
domain-predictor file has the domain column (e.g. state) and one column per predictor
(numeric -> a slope, categorical -> a varying intercept). OUTPUT has the columns of ``calib
estimate`` (estimate = posterior mean, se = posterior sd); ``--draws-out`` writes long draws
(``domain, draw, estimate``) that ``calib forecast`` reads. The diagnostics table is printed;
a fit failing the gate (R-hat, ESS, divergences) exits with code 3.
"""

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer

from calib import mrp
from calib.cli.commands._io import (
    CodebookOption,
    check_out,
    looks_numeric,
    read_frame,
    read_input,
    require_columns,
    to_numeric,
    write_frame,
)
from calib.cli.commands._outcome import numeric_outcome
from calib.core.errors import DataError
from calib.mrp.sampler import BACKENDS, Sampler

COLUMNS = ["outcome", "level", "by", "domain", "estimate", "se", "ci_low", "ci_high", "n"]


@dataclass(frozen=True)
class MRPCommand:
    """What ``calib mrp`` reads and writes; the sampling settings are a
    :class:`calib.mrp.Sampler`.

    Attributes
    ----------
    input, outcome : the rows and their 0/1 outcome column.
    frame, frame_count : the poststratification cells and their count column.
    groups : the varying-intercept terms.
    by, level : the domain column of FRAME and the level of the posterior intervals.
    out, draws_out : the estimates and (optional) long draws.
    domain_predictors : a file with one row per domain and one column per predictor.
    overwrite, codebook : replace existing outputs; recode INPUT first
        (:func:`._io.read_input`).
    """

    input: Path
    outcome: str
    frame: Path
    frame_count: str
    groups: tuple[str, ...]
    by: str
    out: Path
    domain_predictors: Path | None = None
    draws_out: Path | None = None
    level: float = 0.95
    overwrite: bool = False
    codebook: str | Path | None = None


#: The sampler of ``calib mrp`` without sampler options (nutpie; a progress bar on a terminal).
CLI_SAMPLER = Sampler(backend="nutpie", progress=None)


def run(cmd: MRPCommand, sampler: Sampler = CLI_SAMPLER, *, echo: Any = None) -> Any:
    """Fit and poststratify; returns ``(fit, estimate)``."""

    check_out(cmd.out, cmd.overwrite)
    check_out(cmd.draws_out, cmd.overwrite, "--draws-out")
    if not 0 < cmd.level < 1:
        raise DataError(f"--level {cmd.level}: a probability strictly between 0 and 1, e.g. "
                        "0.95")
    rows = read_input(cmd.input, "INPUT", cmd.codebook, echo)
    require_columns(rows, [cmd.outcome, *cmd.groups], "INPUT (--outcome/--group)")
    # missing tokens (NA, refused) leave a 0/1 outcome numeric; "1,000" is named
    rows = numeric_outcome(rows, cmd.outcome)
    fr = read_frame(cmd.frame, "--frame")  # checked before the fit, not after it
    require_columns(fr, [cmd.frame_count, cmd.by], "--frame (--frame-count/--by)")
    fr[cmd.frame_count] = to_numeric(fr, cmd.frame_count,
                                     f"--frame-count {cmd.frame_count} (write 1000, not 1,000)")
    dp = None
    if cmd.domain_predictors is not None:
        dp = read_frame(cmd.domain_predictors, "--domain-predictors")
        for c in dp.columns[1:]:
            if looks_numeric(dp[c]):
                dp[c] = dp[c].astype(float)
    fit = mrp.fit(rows, cmd.outcome, group_effects=list(cmd.groups), domain_predictors=dp,
                  sampler=sampler)
    est = mrp.poststratify(fit, fr, by=cmd.by, count=cmd.frame_count, level=cmd.level)
    write_frame(est.table[[c for c in COLUMNS if c in est.table.columns]], cmd.out)
    if cmd.draws_out is not None:
        write_frame(est.draws[["domain", "draw", "estimate"]], cmd.draws_out)
    return fit, est


def register(app: typer.Typer) -> None:
    """Register ``calib mrp``."""

    @app.command("mrp")
    def mrp_cmd(
        input: Annotated[Path, typer.Argument(  # noqa: A002
            help="rows (personas or respondents), CSV or Parquet")],
        outcome: Annotated[str, typer.Option(
            "--outcome", help="0/1 outcome column (e.g. vote_dem)")],
        frame: Annotated[Path, typer.Option(
            "--frame", help="poststratification cells: the --group columns (same names and "
            "levels) and a count column")],
        frame_count: Annotated[str, typer.Option(
            "--frame-count", help="count column of FRAME (population per cell)")],
        group: Annotated[list[str], typer.Option(
            "--group", help="a varying (sum-to-zero) intercept; repeat for each term")],
        by: Annotated[str, typer.Option(
            "--by", help="domain column of FRAME for the estimates (a Total row is added)")],
        out: Annotated[Path, typer.Option(
            "--out", help="estimates with the columns of calib estimate (CSV or Parquet)")],
        domain_predictors: Annotated[Path | None, typer.Option(
            "--domain-predictors", help="one row per domain (first column, e.g. state) and "
            "one column per predictor: numeric -> a slope, text -> a varying intercept")] = None,
        draws_out: Annotated[Path | None, typer.Option(
            "--draws-out", help="long posterior draws (domain, draw, estimate) for calib "
            "forecast")] = None,
        sampler: Annotated[str, typer.Option(
            "--sampler", help="nutpie (fast, numba-compiled) or pymc (PyMC's own NUTS)")
            ] = "nutpie",
        seed: Annotated[int | None, typer.Option("--seed", help="random seed")] = None,
        level: Annotated[float, typer.Option(
            "--level", help="level of the central posterior intervals")] = 0.95,
        draws: Annotated[int, typer.Option("--draws", help="draws per chain")] = 1000,
        tune: Annotated[int, typer.Option("--tune", help="tuning draws per chain")] = 1000,
        chains: Annotated[int, typer.Option("--chains", help="chains (run in parallel)")] = 4,
        target_accept: Annotated[float | None, typer.Option(
            "--target-accept", help="NUTS target acceptance (default: 0.8, retried once at "
            "0.95 when the first run diverges)")] = None,
        codebook: CodebookOption = None,
        overwrite: Annotated[bool, typer.Option(
            "--overwrite", help="replace existing output files")] = False,
    ) -> None:
        """Fit a multilevel logistic model on the cells of INPUT (sum-to-zero varying
        intercepts; centred or non-centred per term from the data), check the diagnostics
        gate (R-hat <= 1.01, bulk and tail ESS >= 400, no divergences: exit 3 when it fails)
        and poststratify over FRAME by --by. A progress bar shows while sampling; the
        posterior summary prints at the end."""
        if sampler not in BACKENDS:
            raise DataError(f"--sampler {sampler!r}: use nutpie or pymc")
        for flag, value, low in (("--draws", draws, 1), ("--tune", tune, 0),
                                 ("--chains", chains, 1)):
            if value < low:
                raise DataError(f"{flag} {value}: give a whole number >= {low}")
        cmd = MRPCommand(input, outcome, frame, frame_count, tuple(group), by, out,
                         domain_predictors=domain_predictors, draws_out=draws_out, level=level,
                         overwrite=overwrite, codebook=codebook)
        settings = Sampler(draws=draws, tune=tune, chains=chains, backend=sampler,  # type: ignore[arg-type]
                           seed=seed, target_accept=target_accept, progress=None)
        fit, est = run(cmd, settings, echo=typer.echo)
        typer.echo(fit.summary().to_string())
        typer.echo(f"wrote {out}" + (f" and {draws_out}" if draws_out else ""))
