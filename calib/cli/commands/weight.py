"""``calib weight``: weight a sample to targets and write every input row with its weight.

``calib weight INPUT --targets TARGETS --method poststratify|rake|calibrate|optimal|propensity
[--distance D] [--bounds L U] [--cap X] [--divergence kl|chi2|variance] [--trim X]
[--population N] [--base-weight COL] [--reference FILE --reference-weight COL] [--tol X]
[--max-iter N] [--weight-column NAME] --out OUTPUT [--diagnostics-json PATH]``

OUTPUT holds every row of INPUT in input order with the weight column added (rows left out by
``--missing drop`` get an empty weight, and the count is printed). The diagnostics table
(Kish n_eff, design effect, weight summary, margins before/after, ASMD) prints to the
terminal, or as JSON with ``--json``.

Examples
--------
>>> import tempfile, pathlib
>>> d = pathlib.Path(tempfile.mkdtemp())
>>> _ = (d / "in.csv").write_text("sex\\nF\\nM\\nM\\nM\\n")
>>> _ = (d / "t.csv").write_text("variable,level,share\\nsex,F,0.5\\nsex,M,0.5\\n")
>>> from calib.cli.commands._weighting import WeightingOptions
>>> summary = run(d / "in.csv", WeightingOptions(targets=d / "t.csv", method="rake"),
...               out=d / "out.csv")
>>> summary["weighted_rows"], summary["steps"][0]["method"]
(4, 'rake')
>>> import pandas as pd
>>> pd.read_csv(d / "out.csv")["weight"].round(4).tolist()
[2.0, 0.6667, 0.6667, 0.6667]
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
    note_to,
    read_frame,
    read_input,
)
from calib.cli.commands._outofcore import weight_command
from calib.cli.commands._weighting import WeightingOptions, apply, weighting_options
from calib.core.errors import DataError
from calib.data.output import Staged, check_target, frame_to, table_kind
from calib.outofcore.writeback import is_parts_folder
from calib.weighting.diagnostics import summary


def diagnostics_of(sample: Any, weighting: WeightingOptions | None = None) -> tuple[str, dict]:
    """Text and JSON dictionary of the sample's diagnostics (:func:`calib.weighting.diagnostics.summary`).
    After propensity weighting the ASMD is against the reference microdata, on the propensity
    model's variables."""
    opts: dict[str, Any] = {}
    if weighting is not None and weighting.method == "propensity":
        step = next((s for s in sample.history if s.method == "propensity"), None)
        assert weighting.reference is not None  # _validate: propensity needs --reference
        opts["reference"] = read_frame(weighting.reference, "--reference")
        opts["reference_weight"] = weighting.reference_weight
        if step is not None and step.options.get("variables"):
            opts["variables"] = list(step.options["variables"])
    diag = summary(sample, **opts)
    return str(diag), diag.to_dict()


def step_info(sample: Any) -> list[dict]:
    """One dictionary per weighting step: method, converged, iterations, max_error, notes."""
    out = []
    for s in sample.history:
        out.append({
            "method": s.method,
            "converged": s.converged,
            "iterations": s.iterations,
            "max_error": s.max_error,
            "notes": list(s.notes) if getattr(s, "notes", None) else [],
        })
    return out


def run(
    input: Path,  # noqa: A002
    weighting: WeightingOptions,
    *,
    out: Path,
    weight_column: str = "weight",
    diagnostics_json: Path | None = None,
    overwrite: bool = False,
    as_json: bool = False,
    echo: Any = None,
    engine: str = "memory",
    scheduler: str | None = None,
    codebook: str | Path | None = None,
) -> dict[str, Any]:
    """Implement ``calib weight``; writes ``out`` (and the diagnostics JSON) and returns the
    output frame (a summary dict when it ran out of core: see :mod:`calib.cli.commands._outofcore`).
    With ``codebook`` the input is recoded first (:func:`._io.read_input`) and the output
    holds the raw columns, the recoded ones and the weight."""
    codebook_in_memory(codebook, engine, scheduler, input)
    # every output checked before any work, the out-of-core path included (a Dask parts
    # folder written before is checked by the write-back, which may replace it)
    if is_parts_folder(out):
        check_target(out, overwrite, kind="store", inputs=[input], store_marker=is_parts_folder)
    else:
        out = check_out(out, overwrite, inputs=[input])
    diagnostics_json = check_out(diagnostics_json, overwrite, "--diagnostics-json",
                                 inputs=[input])
    if diagnostics_json is not None and diagnostics_json.resolve() == out.resolve():
        raise DataError("--diagnostics-json and --out name the same file; choose two paths")
    if codebook is None and (engine != "memory" or scheduler is not None
                             or not Path(input).is_file()):
        done = weight_command(input, weighting, out=out, weight_column=weight_column,
                              overwrite=overwrite, engine=engine, scheduler=scheduler,
                              as_json=as_json, echo=echo, diagnostics_json=diagnostics_json)
        if done is not None:
            return done
    frame = read_input(input, "INPUT", codebook, note_to(echo, as_json))
    if weight_column in frame.columns:
        raise DataError(
            f"INPUT already has a column {weight_column!r}; name the new one with "
            "--weight-column NAME (or pass it as --base-weight)"
        )
    sample = apply(frame, weighting)
    if sample.n == len(frame):  # no row dropped: the weights are in input order already
        weights = pd.Series(sample.weight_array, index=frame.index, copy=False)
    else:
        weights = sample.weights.reindex(frame.index)
    result = frame.copy(deep=False)  # copy-on-write: adding the column leaves `frame` as is
    result[weight_column] = weights  # a Series: shared with the sample's weights, not copied
    dropped = int(weights.isna().sum())
    text, diag = diagnostics_of(sample, weighting)
    payload = {
        "input": str(input),
        "out": str(out),
        "rows": len(frame),
        "weighted_rows": len(frame) - dropped,
        "dropped_rows": dropped,
        "total_weight": float(weights.sum()),
        "steps": step_info(sample),
        "diagnostics": diag,
    }
    # both outputs published together: a failure leaves neither (calib.data.output)
    with Staged(overwrite=overwrite) as staged:
        frame_to(result, staged.path(out), table_kind(out))
        if diagnostics_json is not None:
            staged.path(diagnostics_json).write_text(dumps(payload) + "\n")
    if echo is not None:
        if as_json:
            echo(dumps(payload))
        else:
            steps = " -> ".join(s["method"] for s in payload["steps"])
            echo(f"weighted {len(frame) - dropped} of {len(frame)} rows ({steps}); "
                 f"wrote {out}")
            if dropped:
                echo(f"note: {dropped} rows have missing weighting variables (--missing drop); "
                     f"their {weight_column!r} is empty")
            echo(text)
    return payload


def register(app: typer.Typer) -> None:
    """Register ``weight`` on the ``calib`` app."""

    @app.command("weight")
    @weighting_options
    def weight(
        input: Annotated[Path, typer.Argument(  # noqa: A002
            help="sample file (CSV or Parquet), or a quoted glob / folder of Parquet files")],
        out: Annotated[Path, typer.Option("--out", help="output file (CSV or Parquet)")],
        weighting: WeightingOptions,
        engine: EngineOption = "auto",
        scheduler: SchedulerOption = None,
        weight_column: Annotated[str, typer.Option(
            "--weight-column", help="name of the weight column added")] = "weight",
        diagnostics_json: Annotated[Path | None, typer.Option(
            "--diagnostics-json", help="also write the diagnostics as JSON here")] = None,
        codebook: CodebookOption = None,
        overwrite: Annotated[bool, typer.Option(
            "--overwrite", help="replace existing output files")] = False,
        as_json: Annotated[bool, typer.Option(
            "--json", help="print machine-readable JSON instead of tables")] = False,
    ) -> None:
        """Weight INPUT to --targets and write every row with its weight to --out."""
        run(input, weighting, out=out, weight_column=weight_column,
            diagnostics_json=diagnostics_json, overwrite=overwrite, as_json=as_json,
            echo=typer.echo, engine=engine, scheduler=scheduler, codebook=codebook)


__all__ = ["run", "register"]
