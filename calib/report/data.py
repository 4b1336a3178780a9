"""What a report shows: :class:`ReportData` (every part optional) and its validation.

Examples
--------
>>> import numpy as np
>>> d = ReportData(title="Demo", weights_before=np.ones(4), weights_after=[0.5, 1.5, 1, 1])
>>> d.present()
['weights']
>>> ReportData(ev_draws=[300, 540]).validated()
Traceback (most recent call last):
...
calib.core.errors.DataError: ev_draws: value 540 is outside 0..538 electoral votes; ...
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from calib.core.errors import DataError
from calib.data.variables import STATES

#: Columns each table part needs (others are kept and shown where the part shows them).
REQUIRED: dict[str, tuple[str, ...]] = {
    "margins": ("variable", "level", "sample_share", "weighted_share", "target_share"),
    "states": ("state", "estimate", "certified"),
    "methods": ("method", "rmse"),
    "mrp_diagnostics": ("parameter", "r_hat", "ess_bulk", "ess_tail"),
}

#: Section name -> the fields it needs, in report order.
SECTIONS: dict[str, tuple[str, ...]] = {
    "weights": ("weights_after",),
    "margins": ("margins",),
    "states": ("states",),
    "ev": ("ev_draws",),
    "methods": ("methods",),
    "mrp": ("mrp_diagnostics",),
    "provenance": ("provenance",),
}


@dataclass(frozen=True)
class ReportData:
    """Everything a report can show; a section is omitted (with a note) when its part is None.

    Attributes
    ----------
    title : report title.
    weights_before, weights_after : unit weights before and after adjustment (1-d arrays of
        the same length, finite, >= 0); ``weights_before`` alone is not shown.
    margins : ``variable, level, sample_share`` (unweighted), ``weighted_share``,
        ``target_share`` (shares in [0, 1]) -> the love plot.
    states : ``state`` (USPS), ``estimate`` (corrected Democratic two-party share),
        ``certified`` (actual), optional ``raw`` (uncorrected) -> the tile-grid map.
    ev_draws : simulated Democratic electoral votes (integers 0..538) -> the EV histogram.
    ev_actual : the certified Democratic electoral votes (marked on the histogram).
    ev_variance : which variance the EV draws include (caption text); a generic sentence
        when None.
    methods : the comparison table: ``method, rmse`` and any of ``bias, coverage,
        winners_correct, ev_error, ...``.
    mrp_diagnostics : ``parameter, r_hat, ess_bulk, ess_tail`` per MRP parameter.
    divergences : number of divergent transitions of the MRP fit.
    provenance : data versions and files, options, seeds, versions, timestamp.
    notes : free-text caveats shown near the top.
    """

    title: str = "calib report"
    weights_before: np.ndarray | Sequence[float] | None = None
    weights_after: np.ndarray | Sequence[float] | None = None
    margins: pd.DataFrame | None = None
    states: pd.DataFrame | None = None
    ev_draws: np.ndarray | Sequence[int] | None = None
    ev_actual: int | None = None
    ev_variance: str | None = None
    methods: pd.DataFrame | None = None
    mrp_diagnostics: pd.DataFrame | None = None
    divergences: int | None = None
    provenance: Mapping[str, object] | None = None
    notes: Sequence[str] = field(default_factory=tuple)

    def present(self) -> list[str]:
        """Names of the sections this data fills, in report order."""
        return [s for s, need in SECTIONS.items() if all(getattr(self, f) is not None for f in need)]

    def validated(self) -> ReportData:
        """A copy with arrays as numpy and tables checked; raises DataError naming the part."""
        changes: dict[str, Any] = {}
        for name in ("weights_before", "weights_after"):
            w = getattr(self, name)
            if w is not None:
                changes[name] = _weights(name, w)
        wb, wa = changes.get("weights_before"), changes.get("weights_after")
        if wb is not None and wa is not None and len(wb) != len(wa):
            raise DataError(
                f"weights_before has {len(wb)} units but weights_after {len(wa)}; give the "
                "weights of the same units before and after (dropped units as weight 0)"
            )
        for name, cols in REQUIRED.items():
            df = getattr(self, name)
            if df is not None:
                changes[name] = _table(name, df, cols)
        if "margins" in changes:
            _shares("margins", changes["margins"], REQUIRED["margins"][2:])
        if "states" in changes:
            changes["states"] = _states(changes["states"])
        if self.ev_draws is not None:
            changes["ev_draws"] = _ev(self.ev_draws)
        if self.ev_actual is not None and not 0 <= int(self.ev_actual) <= 538:
            raise DataError(f"ev_actual={self.ev_actual}: give electoral votes in 0..538")
        if self.divergences is not None and int(self.divergences) < 0:
            raise DataError(f"divergences={self.divergences}: give a count >= 0")
        if isinstance(self.notes, str):
            changes["notes"] = (self.notes,)
        return replace(self, **changes)


def _weights(name: str, w: object) -> np.ndarray:
    a = np.asarray(w, dtype=float)
    if a.ndim != 1 or a.size == 0:
        raise DataError(f"{name}: give a non-empty 1-d array of unit weights (got shape {a.shape})")
    bad = ~np.isfinite(a)
    if bad.any():
        raise DataError(f"{name}: {int(bad.sum())} weights are NaN or infinite (first at "
                        f"position {int(np.flatnonzero(bad)[0])}); fix the weighting step")
    if (a < 0).any():
        raise DataError(f"{name}: {int((a < 0).sum())} weights are negative (min {a.min():.4g}); "
                        "bound the calibration (e.g. bounds=(0, None)) or trim")
    if not (a > 0).any():
        raise DataError(f"{name}: every weight is 0; nothing to show")
    return a


def _table(name: str, df: object, cols: tuple[str, ...]) -> pd.DataFrame:
    if not isinstance(df, pd.DataFrame):
        raise DataError(f"{name}: give a pandas DataFrame with columns {list(cols)}")
    missing = [c for c in cols if c not in df.columns]
    if missing:
        raise DataError(f"{name}: missing columns {missing} (has {list(df.columns)}); "
                        f"give {list(cols)}")
    if df.empty:
        raise DataError(f"{name}: the table is empty; leave the part as None to omit it")
    return df.reset_index(drop=True)


def _shares(name: str, df: pd.DataFrame, cols: Sequence[str]) -> None:
    for c in cols:
        v = pd.to_numeric(df[c], errors="coerce").to_numpy(dtype=float)
        bad = ~np.isfinite(v) | (v < 0) | (v > 1)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            lab = ", ".join(f"{k}={df.at[i, k]!s}" for k in ("variable", "level", "state")
                            if k in df.columns)
            raise DataError(f"{name}.{c}: value {df.at[i, c]!s} at {lab} is not a share in "
                            "[0, 1]; give shares, not percents or totals")


def _states(df: pd.DataFrame) -> pd.DataFrame:
    df = df.copy()
    df["state"] = df["state"].astype(str).str.strip().str.upper()
    unknown = sorted(set(df["state"]) - set(STATES))
    if unknown:
        raise DataError(f"states: unknown state codes {unknown}; use USPS codes of the 50 "
                        "states and DC")
    dup = sorted(df["state"][df["state"].duplicated()].unique())
    if dup:
        raise DataError(f"states: {dup} given more than once; give one row per state")
    _shares("states", df, [c for c in ("estimate", "certified", "raw") if c in df.columns])
    return df


def _ev(draws: object) -> np.ndarray:
    a = np.asarray(draws, dtype=float)
    if a.ndim != 1 or a.size == 0:
        raise DataError("ev_draws: give a non-empty 1-d array of simulated electoral votes")
    if not np.isfinite(a).all() or (a != np.round(a)).any():
        raise DataError("ev_draws: electoral votes must be whole numbers (no NaN)")
    out = (a < 0) | (a > 538)
    if out.any():
        raise DataError(f"ev_draws: value {a[out][0]:.0f} is outside 0..538 electoral votes; "
                        "pass the Democratic electoral votes of each simulation")
    return a.astype(int)
