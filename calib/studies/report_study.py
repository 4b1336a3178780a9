"""The HTML report of a study run: weights, margins, the map, EV histogram, methods, MRP gate.

Builds a :class:`calib.report.ReportData` from a :class:`calib.studies.pipeline.StudyResult`: the
weight distribution and national margins before/after raking the personas, the state map and
EV histogram of the best method by state RMSE (raw personas shown beside it), the method
table with backtest metrics, MRP diagnostics when an MRP fit ran, and provenance.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from calib import __version__
from calib.core.sample import Sample
from calib.studies.comparison import frame_targets
from calib.studies.demo_coverage import with_coverage
from calib.weighting.diagnostics import margin_table

NOTE_WEIGHTING = (
    "Demographic weighting (poststratification, raking, calibration) fixes the personas' "
    "composition bias only. It cannot remove response bias - the LLM answering unlike real "
    "people of the same cell - which needs a human benchmark (PPI, joint MRP)."
)


def _margins(res: Any, variables: list[str]) -> tuple[Any, Any, pd.DataFrame | None]:
    study = res.study
    if study is None:
        return None, None, None
    t = frame_targets(study.frame, variables, None)
    p = res.comparison_personas if hasattr(res, "comparison_personas") else None
    personas = p if p is not None else study.personas
    ptype = res.config.get("personas", {}).get("persona_type")
    if ptype is not None:
        personas = personas[personas["persona_type"].astype(str) == ptype]
    s = Sample(personas)
    raked = s.rake(frame_targets(study.frame, variables, "state"))
    mt = margin_table(raked, t).rename(columns={"margin": "variable", "after_share": "weighted_share"})
    mt = mt[["variable", "level", "sample_share", "weighted_share", "target_share"]]
    before = np.full(s.n, raked.weight_array.sum() / s.n)
    return before, raked.weight_array, mt


def study_report(res: Any, path: str | Path, *, overwrite: bool = False, mrp_fit: Any = None,
                 coverage: pd.DataFrame | None = None) -> Path:
    """Render the report of ``res`` (a :class:`calib.studies.pipeline.StudyResult`) to ``path``.

    ``coverage`` (:func:`calib.studies.demo_coverage.repeated_coverage`): per method the state
    coverage over repetitions with its MCSE; it replaces the one-run ``coverage`` column."""
    # deferred: calib.report loads matplotlib, which a study without a report never needs
    from calib.report import ReportData, render
    from calib.report.parts import ev_variance_text, from_forecast
    from calib.report.render import default_provenance

    summary = res.table()
    ok = summary[summary["status"] == "ok"]
    best = ok.sort_values("rmse")["method"].iloc[0] if len(ok) else None
    variables = list(res.config.get("analysis", {}).get("variables", ["age6", "sex", "race4", "educ5"]))
    before, after, margins = _margins(res, variables)
    keep = [c for c in ["method", "rmse", "bias", "coverage", "winners_correct", "national",
                        "national_truth", "ess", "seconds", "bt_ev_error", "bt_brier",
                        "bt_log_score", "bt_coverage", "status"] if c in summary.columns]
    methods = summary[keep]
    if coverage is not None:
        methods = with_coverage(methods, coverage)
    methods = methods.rename(columns=lambda c: c.replace("bt_", "backtest_"))
    prov: dict[str, Any] = dict(default_provenance())
    prov.update({
        "calib": __version__,
        "study": {k: v for k, v in res.config.items() if k != "outputs"},
        "best_method": best,
        "data": "CVAP 2014-18 frame (MRP Case Studies); certified results (FiveThirtyEight/MEDSL)",
    })
    if res.study is not None:
        prov["simulation"] = res.study.params
    notes = [NOTE_WEIGHTING]
    if coverage is not None and len(coverage):
        notes.append(f"Coverage: share of the 95% state intervals covering the certified "
                     f"result over up to {int(coverage['reps'].max())} simulated repetitions "
                     "(coverage_reps), with its Monte Carlo SE (repetitions as clusters); "
                     "coverage_reps 1 is this run only. Full studies: docs/validation.md.")
    diag = None
    div = None
    mrp_fit = mrp_fit if mrp_fit is not None else res.comparison.fits.get("mrp")
    if mrp_fit is not None:
        d = mrp_fit.diagnostics
        if isinstance(d, pd.DataFrame):
            d = d.reset_index() if "parameter" not in d.columns else d
            diag = d[["parameter", "r_hat", "ess_bulk", "ess_tail"]]
        div = int(mrp_fit.options.get("divergences", 0)) if hasattr(mrp_fit, "options") else None
    parts: dict[str, Any] = dict(
        title="calib study report", weights_before=before, weights_after=after, margins=margins,
        methods=methods, mrp_diagnostics=diag, divergences=div, provenance=prov, notes=notes,
    )  # fmt: skip
    if best is not None and best in res.forecasts:
        f = res.forecasts[best]
        raw = None
        if "raw" in set(res.comparison.table["method"]):
            r = res.comparison.table
            raw = r[r["method"] == "raw"].set_index("domain")["estimate"]
        data = from_forecast(f, **{k: v for k, v in parts.items() if v is not None})
        if raw is not None and data.states is not None:
            st = data.states.copy()
            st["raw"] = st["state"].map(raw)
            if st["raw"].isna().any():  # e.g. DC, filled in the forecast: show raw where known
                st["raw"] = st["raw"].fillna(st["estimate"])
                notes.append("Raw map: states without persona estimates (filled in the "
                             "forecast) show the filled value.")
            data = ReportData(**{**data.__dict__, "states": st, "notes": tuple(notes),
                                 "ev_variance": ev_variance_text(f.options)})
        notes.append(f"Map and EV histogram: the best method by state RMSE ({best}).")
    else:
        data = ReportData(**{k: v for k, v in parts.items() if v is not None})
    return render(data, path, overwrite=overwrite)


__all__ = ["study_report", "NOTE_WEIGHTING"]
