"""``calib estimate``: weighted estimates with standard errors and intervals, by domain.

``calib estimate INPUT --outcome COL [--by COL] [--weight COL | --targets TARGETS --method M
(every weighting option of calib weight)] [--cluster COL] [--strata COL]
[--variance linearization|bootstrap|canty-davison|jackknife] [--replicates R] [--seed N] [--level 0.95]
[--replicates-out REPS.csv [--id COL]] --out OUTPUT.csv``

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
>>> from calib.estimation import EstimateRequest
>>> cmd = EstimateCommand(d / "in.csv", d / "e.csv", weight="w")
>>> t = run(cmd, EstimateRequest("y"), WeightingOptions())
>>> round(float(t["estimate"].iloc[0]), 4)
0.75
"""

from dataclasses import dataclass, replace
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
    note_to,
    read_input,
    require_columns,
    write_frame,
)
from calib.cli.commands._outcome import numeric_outcome
from calib.cli.commands._outofcore import estimate_command
from calib.cli.commands._weighting import (
    WeightingOptions,
    apply,
    base_sample,
    weighting_options,
)
from calib.core.errors import DataError
from calib.data.persist import sidecar
from calib.estimation.request import EstimateRequest

#: ``subbootstrap`` is R's name of the Rao-Wu ``bootstrap``; ``canty-davison`` is R's
#: ``as.svrepdesign(type="bootstrap")``.
VARIANCES = ("linearization", "bootstrap", "subbootstrap", "canty-davison", "jackknife")


@dataclass(frozen=True)
class EstimateCommand:
    """What ``calib estimate`` reads and writes; what it estimates is an
    :class:`~calib.estimation.request.EstimateRequest`, how it weights a
    :class:`._weighting.WeightingOptions`.

    Attributes
    ----------
    input, out : the sample file (or glob / folder of Parquet files) and the output table.
    weight, cluster, strata : columns of final weights, PSUs and strata.
    engine, scheduler : in memory or out of core (:mod:`calib.cli.commands._outofcore`).
    codebook : recode INPUT first (:func:`._io.read_input`).
    replicates_out : also write the recalibrated replicate weights for R
        (:func:`calib.estimation.persist.save_replicates`: CSV or Parquet by extension, columns
        ``id, weight``, outcome, by, strata, cluster, ``rep_1 .. rep_R`` in input row order;
        ``<path>.R`` rebuilds the design with R survey; R's ``svrepdesign`` arguments also in
        a JSON sidecar).
    id : column written as ``id`` in the replicate file (default the 1-based row number).
    overwrite, as_json : replace existing outputs; print JSON.
    """

    input: Path
    out: Path
    weight: str | None = None
    cluster: str | None = None
    strata: str | None = None
    engine: str = "memory"
    scheduler: str | None = None
    codebook: str | Path | None = None
    replicates_out: Path | None = None
    id: str | None = None
    overwrite: bool = False
    as_json: bool = False


def run(cmd: EstimateCommand, request: EstimateRequest, weighting: WeightingOptions, *,
        echo: Any = None) -> pd.DataFrame:
    """Implement ``calib estimate``; writes ``cmd.out`` and returns the estimate table."""
    codebook_in_memory(cmd.codebook, cmd.engine, cmd.scheduler, cmd.input)
    if cmd.replicates_out is not None and (cmd.engine not in ("auto", "memory")
                                           or cmd.scheduler is not None):
        # out of core there are no replicate weights: it used to skip the file silently
        raise DataError("--replicates-out needs the rows in memory (--engine memory); drop "
                        "--engine/--scheduler or --replicates-out")
    if cmd.codebook is None and (cmd.engine != "memory" or cmd.scheduler is not None
                                 or not Path(cmd.input).is_file()):
        done = estimate_command(cmd.input, request.outcome, weighting, out=cmd.out,
                                by=request.by, weight=cmd.weight, level=request.level,
                                overwrite=cmd.overwrite, engine=cmd.engine,
                                scheduler=cmd.scheduler, variance=request.variance,
                                cluster=cmd.cluster, strata=cmd.strata, as_json=cmd.as_json,
                                echo=echo)
        if done is not None:
            return done
    check_out(cmd.out, cmd.overwrite, inputs=[cmd.input])
    out = Path(cmd.out)
    _check(cmd, request, weighting)
    sample = _sample(cmd, request, weighting, echo)
    if cmd.replicates_out is not None and request.variance == "bootstrap":
        # the SE printed is that of the replicates written
        request = replace(request, bootstrap_draw="rows")
    table = sample.estimate(request)
    if cmd.replicates_out is None:
        write_frame(table, out, cmd.overwrite)
    else:  # the replicates (the part that can still fail) first, then the table
        from calib.estimation.persist import save_replicates

        method = request.variance
        assert method in ("bootstrap", "canty-davison", "jackknife")  # _check refused others
        reps = save_replicates(sample, cmd.replicates_out, method, request.n_replicates,
                               request.seed, overwrite=cmd.overwrite, request=request,
                               id=cmd.id)
        try:
            write_frame(table, out, cmd.overwrite)
        except BaseException:
            if not cmd.overwrite:  # new files of this run: a failed run leaves none
                for p in (reps, sidecar(reps), reps.with_name(reps.name + ".R")):
                    p.unlink(missing_ok=True)
            raise
    if echo is not None:
        _report(table, out, request, cmd.as_json, echo)
    return table


def _check(cmd: EstimateCommand, request: EstimateRequest, weighting: WeightingOptions) -> None:
    """The option combinations ``calib estimate`` refuses, each naming its flags."""
    variance = request.variance
    if variance not in VARIANCES:
        raise DataError(f"--variance {variance!r}: use one of {'|'.join(VARIANCES)}")
    if cmd.replicates_out is not None:
        if variance not in ("bootstrap", "canty-davison", "jackknife"):
            raise DataError("--replicates-out needs --variance bootstrap, canty-davison or "
                            "jackknife")
        rep = Path(cmd.replicates_out)
        check_out(rep, cmd.overwrite, "--replicates-out", inputs=[cmd.input])
        if rep.resolve() == Path(cmd.out).resolve():
            raise DataError("--replicates-out and --out name the same file; choose two paths")
        check_out(sidecar(rep), cmd.overwrite, "--replicates-out sidecar", table=False)
        check_out(rep.with_name(rep.name + ".R"), cmd.overwrite, "--replicates-out R script",
                  table=False)
    elif cmd.id is not None:
        raise DataError("--id names the rows of the --replicates-out file; give "
                        "--replicates-out too, or drop --id")
    if request.replicates is not None and variance == "linearization":
        raise DataError("--replicates applies to --variance bootstrap; drop it or change "
                        "--variance")
    if cmd.weight is not None and weighting.given:
        raise DataError("give either --weight COL (weights already computed) or --targets/"
                        "--method (weight here), not both")
    if cmd.weight is not None and weighting.base_weight is not None:
        raise DataError("--base-weight goes with --targets/--method; with --weight drop it")


def _sample(cmd: EstimateCommand, request: EstimateRequest, weighting: WeightingOptions,
            echo: Any) -> Any:
    """The input rows as a Sample: weighted here (--targets/--method) or by --weight."""
    frame = read_input(cmd.input, "INPUT", cmd.codebook, note_to(echo, cmd.as_json))
    outcome = request.outcome
    require_columns(frame, [outcome, request.by], "INPUT (--outcome/--by)")
    frame = numeric_outcome(frame, outcome)
    if weighting.given:
        return apply(frame, weighting, strata=cmd.strata, cluster=cmd.cluster)
    return base_sample(frame, weighting, weight=cmd.weight, strata=cmd.strata,
                       cluster=cmd.cluster)


def _report(table: pd.DataFrame, out: Path, request: EstimateRequest, as_json: bool,
            echo: Any) -> None:
    variance = request.variance
    if as_json:
        echo(dumps({"out": str(out), "variance": table.attrs.get("variance", variance),
                    "estimates": frame_records(table)}))
        return
    comp = table.attrs.get("variance_components")
    echo(f"{request.outcome}: {len(table)} estimates ({variance}"
         + (f"; {comp}" if comp else "") + f"); wrote {out}")
    echo(table.to_string(index=False, float_format=lambda v: f"{v:.4g}"))


def _outcome_missing(flag: str | None) -> Any:
    """``--missing`` applies to the outcome and ``--by`` too; unset, their missing rows are
    left out and counted (the weighting variables' default stays ``error``)."""
    if flag is None:
        return "drop"
    if flag not in ("error", "drop", "level"):
        raise DataError(f"--missing {flag!r}: use error, drop or level")
    return flag


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
            "--variance", help="linearization|bootstrap (Rao-Wu, R's subbootstrap)|"
            "canty-davison (R's bootstrap)|jackknife")] = "linearization",
        replicates: Annotated[int | None, typer.Option(
            "--replicates", help="bootstrap replicates (default 200)")] = None,
        seed: Annotated[int | None, typer.Option("--seed", help="random seed")] = None,
        level: Annotated[float, typer.Option("--level", help="confidence level")] = 0.95,
        overwrite: Annotated[bool, typer.Option(
            "--overwrite", help="replace an existing --out")] = False,
        as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
        codebook: CodebookOption = None,
        replicates_out: Annotated[Path | None, typer.Option(
            "--replicates-out", help="also write the recalibrated replicate weights for R (CSV "
            "or Parquet: id, weight, outcome, by, strata, cluster, rep_1..rep_R) and PATH.R, "
            "an R survey script that rebuilds the design; see docs/r.md")] = None,
        id_col: Annotated[str | None, typer.Option(
            "--id", help="column written as id in --replicates-out (default: row number)")] = None,
        engine: EngineOption = "auto",
        scheduler: SchedulerOption = None,
    ) -> None:
        """Weighted estimates of --outcome (by --by) with SEs and confidence intervals."""
        if variance not in VARIANCES:
            raise DataError(f"--variance {variance!r}: use one of {'|'.join(VARIANCES)}")
        if not 0 < level < 1:
            raise DataError(f"--level {level}: a confidence level strictly between 0 and 1")
        request = EstimateRequest(outcome, by=by, variance=variance,  # type: ignore[arg-type]
                                  replicates=replicates, seed=seed, level=level, progress=None,
                                  missing=_outcome_missing(weighting.missing))
        cmd = EstimateCommand(input, out, weight=weight, cluster=cluster, strata=strata,
                              engine=engine, scheduler=scheduler, codebook=codebook,
                              replicates_out=replicates_out, id=id_col, overwrite=overwrite,
                              as_json=as_json)
        run(cmd, request, weighting, echo=typer.echo)


__all__ = ["run", "register", "EstimateCommand", "VARIANCES"]
