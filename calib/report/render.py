"""Render :class:`~calib.report.data.ReportData` to one self-contained HTML file.

Figures are inlined (PNG data URIs, inline SVG), the stylesheet is inline, and the page loads
nothing else: it can be mailed, archived or opened offline.

Examples
--------
>>> import tempfile, pathlib
>>> import numpy as np
>>> from calib.report import ReportData, render
>>> d = ReportData(title="Demo", weights_before=np.ones(3), weights_after=np.array([.5, 1, 1.5]))
>>> out = render(d, pathlib.Path(tempfile.mkdtemp()) / "r.html")
>>> 'id="fig-weights"' in out.read_text()
True
"""

from __future__ import annotations

import datetime as _dt
import json
import math
import platform
from importlib import metadata, resources
from pathlib import Path

import numpy as np
import pandas as pd
from jinja2 import Environment, StrictUndefined
from markupsafe import Markup

from calib.core.errors import DataError
from calib.core.util import check_output
from calib.data.output import write_text
from calib.report import figures
from calib.report.data import SECTIONS, ReportData

#: What each omitted section would need, for the "not in this report" note.
_NEEDS: dict[str, str] = {
    "weights": "weight distribution (give weights_after, optionally weights_before)",
    "margins": "margins love plot (give margins)",
    "states": "state map (give states)",
    "ev": "electoral-vote distribution (give ev_draws)",
    "methods": "method comparison (give methods)",
    "mrp": "MRP diagnostics (give mrp_diagnostics)",
    "provenance": "provenance (give provenance)",
}
_EV_VARIANCE = (
    "The spread includes whatever variance the draws carry; for calib.election.forecast that "
    "is each state's estimate variance (sampling / weighting / posterior) plus one national "
    "swing shared by all states (a stand-in for shared non-sampling error)."
)
R_HAT_MAX = 1.01
ESS_MIN = 400


def _fmt(v: object) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)) or v is pd.NA:
        return "\u2014"
    if isinstance(v, (bool, np.bool_)):
        return "yes" if v else "no"
    if isinstance(v, (int, np.integer)):
        return f"{int(v):,}"
    if isinstance(v, (float, np.floating)):
        x = float(v)
        if x == round(x) and abs(x) >= 1000:
            return f"{x:,.0f}"
        return f"{x:.4g}"
    if isinstance(v, (dict, list, tuple)):
        return json.dumps(v, default=str, sort_keys=True)
    return str(v)


def _table(df: pd.DataFrame, highlight: dict[int, str] | None = None) -> dict:
    numeric = [pd.api.types.is_numeric_dtype(df[c]) and not pd.api.types.is_bool_dtype(df[c])
               for c in df.columns]
    rows = []
    for i, rec in enumerate(df.itertuples(index=False)):
        rows.append({"cells": [_fmt(v) for v in rec], "cls": (highlight or {}).get(i, "")})
    return {"columns": [str(c) for c in df.columns], "numeric": numeric, "rows": rows}


def default_provenance() -> dict[str, str]:
    """Versions of calib, Python and the numerical stack (no heavy imports), and a timestamp."""
    out = {"generated": _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC"),
           "python": platform.python_version()}
    for pkg in ("calib", "numpy", "pandas", "scipy", "matplotlib", "pymc"):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            continue
    return out


def _given[T](part: T | None) -> T:
    """A part that :meth:`ReportData.present` lists, so not None."""
    if part is None:
        raise AssertionError("a present report part is None")
    return part


def _summary(d: ReportData) -> list[dict]:
    items: list[dict] = []
    if d.ev_draws is not None:
        ev = np.asarray(d.ev_draws)  # validated(): already an array
        lo, hi = np.percentile(ev, [5, 95])
        items.append({"label": "P(Democratic win)", "value": f"{np.mean(ev >= 270):.0%}",
                      "sub": f"{ev.size:,} simulations, \u2265270 electoral votes"})
        sub = f"90% interval {lo:.0f}\u2013{hi:.0f}"
        if d.ev_actual is not None:
            sub += f"; actual {int(d.ev_actual)}"
        items.append({"label": "Expected Democratic EV", "value": f"{ev.mean():.0f}", "sub": sub})
    if d.states is not None:
        s = d.states
        cert = s["certified"].astype(float) > 0.5
        ok = int(((s["estimate"].astype(float) > 0.5) == cert).sum())
        rmse = float(np.sqrt(np.mean((s["estimate"] - s["certified"]).astype(float) ** 2)))
        sub = f"state RMSE {100 * rmse:.1f} points"
        if "raw" in s.columns:
            raw_ok = int(((s["raw"].astype(float) > 0.5) == cert).sum())
            sub += f"; raw personas {raw_ok}/{len(s)}"
        items.append({"label": "States called right", "value": f"{ok}/{len(s)}", "sub": sub})
    if d.methods is not None:
        m = d.methods
        r = pd.to_numeric(m["rmse"], errors="coerce")
        if r.notna().any():
            best = m.loc[r.idxmin()]  # pyright: ignore[reportCallIssue, reportArgumentType]  # pandas-stubs: a label is Hashable, .loc wants narrower
            items.append({"label": "Best method by RMSE", "value": str(best["method"]), "text": 1,
                          "sub": f"RMSE {_fmt(float(best['rmse']))} of {len(m)} methods"})
    if d.weights_after is not None:
        st = figures.weight_stats(np.asarray(d.weights_after))
        items.append({"label": "Effective sample size", "value": f"{st['ess']:,.0f}",
                      "sub": f"of {st['n']:,.0f} units; design effect {st['deff']:.2f}"})
    if d.mrp_diagnostics is not None:
        rh = pd.to_numeric(d.mrp_diagnostics["r_hat"], errors="coerce").max()
        items.append({"label": "MRP max R-hat", "value": f"{rh:.3f}",
                      "sub": "divergences: " + ("not given" if d.divergences is None
                                                else f"{int(d.divergences)}")})
    return items


def _context(d: ReportData) -> dict:
    present = d.present()
    ctx: dict = {"title": d.title, "present": present, "notes": list(d.notes),
                 "summary": _summary(d),
                 "omitted": [_NEEDS[s] for s in SECTIONS if s not in present]}
    if "weights" in present:
        # validated(): arrays already (asarray returns them as they are)
        wa = np.asarray(_given(d.weights_after))
        wb = None if d.weights_before is None else np.asarray(d.weights_before)
        ctx["fig_weights"] = figures.weights_png(wb, wa)
        ctx["w_after"] = figures.weight_stats(wa)
        ctx["w_before"] = figures.weight_stats(wb) if wb is not None else None
        ctx["before_equal"] = wb is not None and bool(np.ptp(wb[wb > 0]) <= 1e-12 * wb.max())
    if "margins" in present:
        m = _given(d.margins)
        ctx["fig_love"] = figures.love_png(m)
        t = m["target_share"].astype(float)
        ctx["love_before"] = float((m["sample_share"].astype(float) - t).abs().max()) * 100
        ctx["love_after"] = float((m["weighted_share"].astype(float) - t).abs().max()) * 100
    if "states" in present:
        s = _given(d.states)
        cert = s["certified"].astype(float) > 0.5
        wrong = s.loc[(s["estimate"].astype(float) > 0.5) != cert, "state"].tolist()
        alt = ("Tile-grid maps of the United States coloured by Democratic two-party share: "
               "corrected estimate beside the certified result. Wrong calls: "
               + (", ".join(wrong) if wrong else "none") + ".")
        ctx["fig_tilemap"] = Markup(figures.tilemap_svg(s, alt=alt))
        ctx["wrong_calls"] = wrong
        ctx["has_raw"] = "raw" in s.columns
    if "ev" in present:
        ctx["fig_ev"] = figures.ev_png(np.asarray(_given(d.ev_draws)), d.ev_actual)
        ctx["ev_actual"] = d.ev_actual
        ctx["ev_variance"] = d.ev_variance or _EV_VARIANCE
    if "methods" in present:
        m = _given(d.methods)
        r = pd.to_numeric(m["rmse"], errors="coerce")
        # (pandas-stubs type idxmin as Hashable: here a label of the RangeIndex)
        hl = {int(r.idxmin()): "best"} if r.notna().any() else {}  # pyright: ignore[reportArgumentType]
        ctx["tbl_methods"] = _table(m, hl)
    if "mrp" in present:
        mr = _given(d.mrp_diagnostics)
        rh = pd.to_numeric(mr["r_hat"], errors="coerce")
        eb = pd.to_numeric(mr["ess_bulk"], errors="coerce")
        et = pd.to_numeric(mr["ess_tail"], errors="coerce")
        bad = (rh > R_HAT_MAX) | (eb < ESS_MIN) | (et < ESS_MIN)
        ctx["tbl_mrp"] = _table(mr, {int(i): "bad" for i in np.flatnonzero(bad.to_numpy())})
        ctx["mrp_bad"] = int(bad.sum())
        ctx["divergences"] = d.divergences
        ctx["r_hat_max"], ctx["ess_min"] = R_HAT_MAX, ESS_MIN
    if "provenance" in present:
        given = dict(_given(d.provenance))
        prov = {**given, **{k: v for k, v in default_provenance().items() if k not in given}}
        ctx["tbl_provenance"] = [(str(k), _fmt(v)) for k, v in prov.items()]
    return ctx


def _template():
    env = Environment(autoescape=True, undefined=StrictUndefined, lstrip_blocks=True)
    src = resources.files("calib.report").joinpath("template.html.j2").read_text("utf-8")
    return env.from_string(src)


def render_html(data: ReportData) -> str:
    """The report as an HTML string (see :func:`render`)."""
    if not isinstance(data, ReportData):
        raise DataError(f"render needs a calib.report.ReportData, got {type(data).__name__}")
    return _template().render(**_context(data.validated()))


def render(data: ReportData, path: str | Path, *, overwrite: bool = False) -> Path:
    """Write the report to one self-contained HTML file.

    Parameters
    ----------
    data : what to show; absent parts are omitted and listed in a note.
    path : the HTML file to write (parent folders are created).
    overwrite : replace an existing file; without it an existing file is an error.

    Returns
    -------
    Path
        The written file.

    Raises
    ------
    DataError
        The file exists and ``overwrite`` is False, or a part of ``data`` is malformed (the
        message names the part, the column and the value).
    """
    p = check_output(path, overwrite, "report file")
    if p.is_dir():
        raise DataError(f"report file {str(p)!r} is a folder; give an .html file path")
    html = render_html(data)
    p.parent.mkdir(parents=True, exist_ok=True)
    # through a temporary, published at the end: an interrupted render leaves no half page
    return write_text(html, p, overwrite=overwrite, what="report file")


__all__ = ["render", "render_html", "default_provenance"]
