"""The persona study steps of ``calib demo`` (issue 8's main job, on shipped data).

A simulated 2024 persona study at the seed study's scale — 1,000 meta personas per state,
each rendered as the four persona types (meta, objective, subjective, descriptive), with the
seed paper's response bias (descriptive personas call every state for the Democrat) — plus an
ANES-sized human benchmark (1,500). The descriptive personas go through raw / raking / bounded
logit calibration / partisan calibration (recalled 2020 vote) / MRP / hybrid (PPI rectifier,
small-area Fay-Herriot composite, joint persona-human MRP); each method's state estimates
become an electoral-college forecast, backtested against the certified 2024 results; the comparison
table is printed and ``out/report.html`` written. The coverage shown is averaged over up to 5
repetitions of the non-MRP methods, with its MCSE (:mod:`calib.studies.demo_coverage`).

The truth reproduces the certified 2024 state results exactly (see
:mod:`calib.studies.election_study`), so the backtest measures what each method recovers.
"""

from __future__ import annotations

import copy
import json
import time
import warnings
from pathlib import Path

from calib.core.errors import CalibError, DataError, OutputExistsError
from calib.data.output import write_text
from calib.studies.demo_coverage import repeated_coverage, with_coverage
from calib.studies.pipeline import run_study
from calib.studies.report_study import study_report

STUDY = {
    "personas": {
        "simulate": {"year": 2024, "per_state": 1000, "human_n": 1500, "seed": 2024},
        "persona_type": "descriptive",
    },
    "analysis": {
        "outcome": "vote_dem",
        "human_outcome": "vote_dem",
        "llm_outcome": "llm_vote_dem",
        "methods": ["raw", "rake", "calibrate-logit", "partisan", "mrp", "ppi", "small-area",
                    "joint-mrp"],
        "variables": ["age6", "sex", "race4", "educ5"],
        "level": 0.95,
        "seed": 2024,
        "options": {"calibrate-logit": {"margins": "national"},
                    "mrp": {"draws": 500, "tune": 500, "chains": 4, "gate": "warn",
                            "group_effects": ["state", "age6", "sex", "race4", "educ5"]},
                    "joint-mrp": {"draws": 500, "tune": 500, "chains": 4, "gate": "warn"}},
    },
    "forecast": {"year": 2024, "fill_missing": "previous", "national_sd": 0.02, "draws": 20000,
                 "seed": 2024},
}

OUT = Path("out")
#: The demo's manifest in its output folder: the files it wrote, the only ones it replaces
#: without ``--overwrite`` (so ``make demo`` runs twice, and a user's file is never lost).
MANIFEST = ".calib-demo.json"
#: The files the demo writes into its output folder.
FILES = ("report.html",)


def manifest_files(out_dir: Path) -> set[str]:
    """The file names the demo's manifest in ``out_dir`` lists (empty when there is none).

    >>> import tempfile
    >>> manifest_files(Path(tempfile.mkdtemp()))
    set()
    """
    try:
        data = json.loads((Path(out_dir) / MANIFEST).read_text())
    except (OSError, ValueError):
        return set()
    files = data.get("files", []) if isinstance(data, dict) else []
    return {str(f) for f in files if isinstance(f, str)}


def check_demo_outputs(out_dir: Path, *, overwrite: bool) -> None:
    """Before any work: refuse an existing file the demo would write that its manifest does
    not list (unless ``overwrite``), and an ``out_dir`` that is a file.

    >>> import tempfile
    >>> d = Path(tempfile.mkdtemp()); _ = (d / "report.html").write_text("mine")
    >>> check_demo_outputs(d, overwrite=False)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    calib.core.errors.OutputExistsError: ...report.html' exists and was not written by calib demo; ...
    """
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise DataError(f"--out-dir {str(out_dir)!r} is a file; give a folder")
    own = manifest_files(out_dir)
    for name in FILES:
        p = out_dir / name
        if p.is_dir():
            raise DataError(f"--out-dir: {str(p)!r} is a folder; move it or choose another "
                            "--out-dir")
        if p.exists() and name not in own and not overwrite:
            raise OutputExistsError(
                f"{str(p)!r} exists and was not written by calib demo; pass --overwrite to "
                "replace it, or choose another --out-dir")


def study_step(ctx: dict) -> str:
    """Run the persona study; store the result; return the printed comparison."""
    cfg = copy.deepcopy(STUDY)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        res = run_study(cfg)
    ctx["study"] = res
    st = res.study
    p = st.personas
    by_type = p.groupby("persona_type", observed=True)["vote_dem"].mean()
    calls = (p.groupby(["persona_type", "state"], observed=True)["vote_dem"].mean() > 0.5)
    calls = calls.groupby(level=0, observed=True).sum()
    lines = [
        f"{len(p):,} persona rows (1,000 per state x 4 types) + {len(st.human):,} humans; "
        f"truth = certified 2024 (national D two-party {st.truth_national:.3f})",
        "raw persona D share by type: " + ", ".join(
            f"{t} {by_type[t]:.3f} ({int(calls[t])} states called D)" for t in by_type.index),
        "descriptive personas through each method (state RMSE / bias vs certified, interval "
        "coverage, states called; backtest of the EV forecast):",
    ]
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        cov = repeated_coverage(cfg, res.comparison.table, run_study)
    ctx["coverage"] = cov
    extra_s = time.perf_counter() - t0
    t = with_coverage(res.table(), cov)
    cols = ["method", "rmse", "bias", "coverage", "coverage_mcse", "coverage_reps",
            "winners_correct", "bt_ev_expected", "bt_ev_actual", "bt_p_dem_win", "seconds",
            "status"]
    show = t[[c for c in cols if c in t.columns]].rename(
        columns={"bt_ev_expected": "EV_D", "bt_ev_actual": "EV_actual", "bt_p_dem_win": "P(D win)",
                 "winners_correct": "called", "coverage_mcse": "mcse",
                 "coverage_reps": "reps"})
    lines.append(show.to_string(index=False, float_format=lambda x: f"{x:.3f}"))
    reps = int(cov["reps"].max()) if len(cov) else 1
    lines.append(f"coverage: share of the 95% state intervals that cover the certified result, "
                 f"over {reps} simulated repetitions of this design for the non-MRP methods "
                 f"(+{extra_s:.0f} s; mcse with repetitions as clusters); the MRP methods show "
                 "this run only (reps 1). The full coverage studies: docs/validation.md.")
    lines.append("Weighting fixes composition only: raking and calibration leave the response "
                 "bias; partisan calibration (the recalled 2020 vote, certified targets) removes "
                 "the part that runs through partisanship; the human benchmark (PPI rectifier, "
                 "small-area composite, joint persona-human MRP) removes most of it; the PPI "
                 "rectifier borrowed from the region leaves each state's own bias out of its "
                 "interval (coverage well under 95%), the small-area composite counts it.")
    ctx["results"]["study"] = {
        "summary": t.drop(columns=[c for c in t.columns if c.startswith("bt_")]).to_dict("records"),
        "coverage": cov.to_dict("records"),
        "backtest": res.metrics,
    }
    failed = t[t["status"].astype(str).str.startswith("failed")] if "status" in t else t.iloc[:0]
    if len(failed):
        # the demo shows every method working: a failure (e.g. a module missing from the
        # install) must not pass as exit 0 with a table row saying "failed"
        why = "; ".join(f"{m}: {s}" for m, s in zip(failed["method"], failed["status"],
                                                     strict=True))
        raise CalibError(
            f"demo: {len(failed)} of {len(t)} methods failed ({why}). A missing module means "
            "an incomplete install: reinstall calib with its dependencies (`pip install "
            "calib`). The comparison so far:\n" + "\n".join(lines[-2:-1])
        )
    return "\n".join(lines)


def report_step(ctx: dict) -> str:
    """Write report.html into the demo's folder (``ctx["out_dir"]``, default ``out/``).

    It replaces a file only when its manifest (:data:`MANIFEST`) lists it, or with
    ``ctx["overwrite"]``; the manifest is updated after the report is published."""
    out_dir = Path(ctx.get("out_dir") or OUT)
    overwrite = bool(ctx.get("overwrite", False))
    check_demo_outputs(out_dir, overwrite=overwrite)
    out_dir.mkdir(parents=True, exist_ok=True)
    own = manifest_files(out_dir)
    name = "report.html"
    path = study_report(ctx["study"], out_dir / name, overwrite=overwrite or name in own,
                        coverage=ctx.get("coverage"))
    write_text(json.dumps({"written_by": "calib demo", "files": sorted(own | {name})}) + "\n",
               out_dir / MANIFEST, overwrite=True, what="demo manifest")
    ctx["results"]["report"] = str(path)
    return f"wrote {path}"


__all__ = ["FILES", "MANIFEST", "STUDY", "check_demo_outputs", "manifest_files", "study_step",
           "report_step"]
