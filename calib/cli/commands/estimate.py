"""``calib estimate``: weighted estimates with standard errors and intervals, by domain.

``calib estimate INPUT --outcome COL [--by COL] [--weight COL | --targets TARGETS --method M
(every weighting option of calib weight)] [--cluster COL] [--strata COL]
[--variance linearization|bootstrap|jackknife] [--replicates R] [--seed N] [--level 0.95]
--out OUTPUT.csv``

The output has the columns of :func:`calib.estimation.estimate`: ``outcome, level, by, domain,
estimate, se, ci_low, ci_high, n, ess, deff``. An outcome whose values are all numbers is
numeric (a mean; a 0/1 outcome gives a proportion); any other outcome is categorical (one
row per level: shares). With ``--targets`` the sample is weighted first and the standard
errors account for the calibration (residuals, or recalibrated replicates).

Examples
--------
>>> import tempfile, pathlib
>>> d = pathlib.Path(tempfile.mkdtemp())
>>> _ = (d / "in.csv").write_text("y,w\\n1,1\\n0,1\\n1,2\\n")
>>> from calib.cli.commands._weighting import WeightingOptions
>>> t = run(d / "in.csv", "y", WeightingOptions(), weight="w", out=d / "e.csv")
>>> round(float(t["estimate"].iloc[0]), 4)
0.75
"""

from pathlib import Path
from typing import Annotated, Any

import pandas as pd
import typer

from calib.cli.commands._io import (
    CodebookOption,
    EngineOption,
    SchedulerOption,
    check_out,
    codebook_in_memory,
    dumps,
    frame_records,
    looks_numeric,
    note_to,
    read_input,
    require_columns,
    to_numeric,
    write_frame,
)
from calib.cli.commands._weighting import (
    WeightingOptions,
    apply,
    base_sample,
    weighting_options,
)
from calib.core.errors import DataError

VARIANCES = ("linearization", "bootstrap", "jackknife")


def run(
    input: Path,  # noqa: A002
    outcome: str,
    weighting: WeightingOptions,
    *,
    out: Path,
    by: str | None = None,
    weight: str | None = None,
    cluster: str | None = None,
    strata: str | None = None,
    variance: str = "linearization",
    replicates: int | None = None,
    seed: int | None = None,
    level: float = 0.95,
    overwrite: bool = False,
    as_json: bool = False,
    echo: Any = None,
    engine: str = "memory",
    scheduler: str | None = None,
    codebook: str | Path | None = None,
    progress: bool | None = False,
    replicates_out: Path | None = None,
) -> pd.DataFrame:
    """Implement ``calib estimate``; writes ``out`` and returns the estimate table. With
    ``codebook`` the input is recoded first (:func:`._io.read_input`); ``replicates_out``
    also writes the recalibrated replicate weights (:func:`calib.data.persist.save_replicates`:
    Parquet ``rep_1 .. rep_R`` in input row order, R's ``svrepdesign`` arguments in a JSON
    sidecar)."""
    codebook_in_memory(codebook, engine, scheduler, input)
    if codebook is None and (engine != "memory" or scheduler is not None
                             or not Path(input).is_file()):
        from calib.cli.outofcore import estimate_command

        done = estimate_command(input, outcome, weighting, out=out, by=by, weight=weight,
                                level=level, overwrite=overwrite, engine=engine,
                                scheduler=scheduler, variance=variance, cluster=cluster,
                                strata=strata, as_json=as_json, echo=echo)
        if done is not None:
            return done
    out = check_out(out, overwrite)
    if variance not in VARIANCES:
        raise DataError(f"--variance {variance!r}: use one of {'|'.join(VARIANCES)}")
    if replicates_out is not None:
        if variance not in ("bootstrap", "jackknife"):
            raise DataError("--replicates-out needs --variance bootstrap or jackknife")
        if Path(replicates_out).suffix.lower() not in (".parquet", ".pq"):
            raise DataError(f"--replicates-out {str(replicates_out)!r}: replicate weights are "
                            "written as Parquet; use a .parquet path")
        from calib.data.persist import _sidecar

        check_out(replicates_out, overwrite, "--replicates-out")
        check_out(_sidecar(Path(replicates_out)), overwrite, "--replicates-out sidecar",
                  table=False)
    if replicates is not None and variance == "linearization":
        raise DataError("--replicates applies to --variance bootstrap; drop it or change "
                        "--variance")
    if not 0 < level < 1:
        raise DataError(f"--level {level}: a confidence level strictly between 0 and 1")
    if weight is not None and weighting.given:
        raise DataError("give either --weight COL (weights already computed) or --targets/"
                        "--method (weight here), not both")
    if weight is not None and weighting.base_weight is not None:
        raise DataError("--base-weight goes with --targets/--method; with --weight drop it")
    frame = read_input(input, "INPUT", codebook, note_to(echo, as_json))
    require_columns(frame, [outcome, by], "INPUT (--outcome/--by)")
    if looks_numeric(frame[outcome]):
        frame = frame.copy()
        frame[outcome] = to_numeric(frame, outcome, f"--outcome {outcome}")
    if weighting.given:
        sample = apply(frame, weighting, strata=strata, cluster=cluster)
    else:
        sample = base_sample(frame, weighting, weight=weight, strata=strata, cluster=cluster)
    opts: dict[str, Any] = {"by": by, "variance": variance, "level": level}
    if variance != "linearization":
        opts["progress"] = progress
    if replicates_out is not None and variance == "bootstrap":
        opts["bootstrap_draw"] = "rows"  # the SE printed is that of the replicates written
    if seed is not None:
        opts["seed"] = seed
    if replicates is not None:
        opts["replicates"] = replicates
    table = sample.estimate(outcome, **opts)
    write_frame(table, out)
    if replicates_out is not None:
        from calib.data.persist import save_replicates

        assert variance in ("bootstrap", "jackknife")  # checked with --replicates-out above
        save_replicates(sample, replicates_out, variance, replicates or 200, seed,
                        overwrite=overwrite)
    if echo is not None:
        if as_json:
            echo(dumps({"out": str(out), "variance": table.attrs.get("variance", variance),
                        "estimates": frame_records(table)}))
        else:
            comp = table.attrs.get("variance_components")
            echo(f"{outcome}: {len(table)} estimates ({variance}"
                 + (f"; {comp}" if comp else "") + f"); wrote {out}")
            echo(table.to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    return table


def register(app: typer.Typer) -> None:
    """Register ``estimate`` on the ``calib`` app."""

    @app.command("estimate")
    @weighting_options
    def estimate(
        input: Annotated[Path, typer.Argument(  # noqa: A002
            help="sample file (CSV or Parquet), or a quoted glob / folder of Parquet files")],
        outcome: Annotated[str, typer.Option("--outcome", help="outcome column")],
        out: Annotated[Path, typer.Option("--out", help="output table (CSV or Parquet)")],
        weighting: WeightingOptions,
        by: Annotated[str | None, typer.Option("--by", help="domain column")] = None,
        weight: Annotated[str | None, typer.Option(
            "--weight", help="column of final weights (instead of --targets/--method)")] = None,
        cluster: Annotated[str | None, typer.Option("--cluster", help="PSU column")] = None,
        strata: Annotated[str | None, typer.Option("--strata", help="strata column")] = None,
        variance: Annotated[str, typer.Option(
            "--variance", help="linearization|bootstrap|jackknife")] = "linearization",
        replicates: Annotated[int | None, typer.Option(
            "--replicates", help="bootstrap replicates (default 200)")] = None,
        seed: Annotated[int | None, typer.Option("--seed", help="random seed")] = None,
        level: Annotated[float, typer.Option("--level", help="confidence level")] = 0.95,
        overwrite: Annotated[bool, typer.Option(
            "--overwrite", help="replace an existing --out")] = False,
        as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
        codebook: CodebookOption = None,
        replicates_out: Annotated[Path | None, typer.Option(
            "--replicates-out", help="also write the recalibrated replicate weights (Parquet, "
            "with a JSON sidecar of R svrepdesign's type/scale/rscales)")] = None,
        engine: EngineOption = "auto",
        scheduler: SchedulerOption = None,
    ) -> None:
        """Weighted estimates of --outcome (by --by) with SEs and confidence intervals."""
        run(input, outcome, weighting, out=out, by=by, weight=weight, cluster=cluster,
            strata=strata, variance=variance, replicates=replicates, seed=seed, level=level,
            overwrite=overwrite, as_json=as_json, echo=typer.echo, engine=engine,
            scheduler=scheduler, codebook=codebook, progress=None, replicates_out=replicates_out)


__all__ = ["run", "register", "VARIANCES"]
