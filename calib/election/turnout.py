"""Likely-voter adjustment: from a frame of adults to a frame of voters.

Estimates of adults are not estimates of voters. Two documented, optional steps:

1. **Turnout propensity per cell** — :func:`turnout_propensity` fits a ridge-penalized logistic
   regression of a binary "voted" item on the frame's cell variables in a reference survey with
   its design weights (e.g. CCES validated vote, ANES reported turnout), on cells. Reported
   turnout is over-reported in surveys; the state calibration in step 2 fixes the level but not
   the slope across cells.
2. **State totals** — :func:`likely_voter_frame` multiplies each frame cell's count by its
   propensity (1 when none is given) and scales each state so its voters equal the certified
   total presidential votes of a chosen election (the previous one for a forecast; the target
   year itself in a backtest, where it is known).

The result is a frame with a ``voters`` column to poststratify MRP fits or to use as targets.

Examples
--------
>>> import pandas as pd
>>> frame = pd.DataFrame({"state": ["AL", "AL", "AK"], "age4": ["18-29", "65+", "18-29"],
...                       "n": [100.0, 100.0, 50.0]})
>>> out = likely_voter_frame(frame, None, totals=pd.Series({"AL": 120.0, "AK": 10.0}))
>>> out["voters"].tolist()
[60.0, 60.0, 10.0]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.optimize import minimize

from calib.core.cells import collapse, encode
from calib.core.errors import DataError


@dataclass(frozen=True)
class TurnoutModel:
    """A fitted turnout propensity model on cell variables."""

    variables: tuple[str, ...]
    levels: dict
    intercept: float
    coefs: dict  # variable -> array of effects per level
    n_used: int
    n_missing: int

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        """Turnout propensity for every row (cell) of ``frame``."""
        enc = encode(frame, self.variables, levels=self.levels)
        eta = np.full(enc.n, self.intercept)
        for v, c in zip(self.variables, enc.codes, strict=True):
            eta += self.coefs[v][c]
        return 1.0 / (1.0 + np.exp(-eta))


def turnout_propensity(
    survey: pd.DataFrame,
    voted: str,
    variables: Sequence[str],
    *,
    weight: str | None = None,
    penalty: float = 1.0,
    levels: dict | None = None,
) -> TurnoutModel:
    """Fit P(voted | cell) by weighted ridge logistic regression on cells.

    Parameters
    ----------
    survey : reference survey rows.
    voted : column with 1/0 (or True/False); missing values are left out and counted.
    variables : harmonized cell variables shared with the frame.
    weight : design-weight column (scaled to the respondent count before fitting).
    penalty : ridge penalty on the level effects (the intercept is not penalized).
    levels : level lists per variable (default: the survey's levels).
    """
    if voted not in survey.columns:
        raise DataError(f"turnout item {voted!r} is not a column of the survey")
    y = pd.to_numeric(survey[voted].astype("float64", errors="ignore"), errors="coerce")
    ok = y.notna().to_numpy()
    vals = set(np.unique(y[ok]))
    if not vals <= {0.0, 1.0}:
        raise DataError(f"turnout item {voted!r} must be 0/1; found values {sorted(vals)[:6]}")
    sub = survey.loc[ok]
    w = np.ones(len(sub)) if weight is None else sub[weight].to_numpy(dtype=float)
    w = w * (len(w) / w.sum())
    enc = encode(sub, variables, levels=levels, missing="drop")
    yy = y[ok].to_numpy()[enc.keep]
    cells, row_cell = collapse(enc, w[enc.keep], sums={"yes": w[enc.keep] * yy})
    yes, tot = cells.sums["yes"], cells.weight
    sizes = [len(enc.levels[v]) for v in enc.variables]
    offs = np.concatenate([[0], np.cumsum(sizes)])

    def unpack(theta):
        return theta[0], [theta[1 + offs[j] : 1 + offs[j + 1]] for j in range(len(sizes))]

    def nll(theta):
        b0, effs = unpack(theta)
        eta = b0 + sum(e[cells.keys[:, j]] for j, e in enumerate(effs))
        ll = yes * eta - tot * np.logaddexp(0, eta)
        p = 1 / (1 + np.exp(-eta))
        resid = yes - tot * p
        grad = np.zeros_like(theta)
        grad[0] = -resid.sum()
        for j in range(len(sizes)):
            grad[1 + offs[j] : 1 + offs[j + 1]] = -np.bincount(
                cells.keys[:, j], weights=resid, minlength=sizes[j]
            )
        grad[1:] += penalty * theta[1:]
        return -ll.sum() + 0.5 * penalty * np.sum(theta[1:] ** 2), grad

    res = minimize(nll, np.zeros(1 + offs[-1]), jac=True, method="L-BFGS-B")
    b0, effs = unpack(res.x)
    return TurnoutModel(
        tuple(enc.variables),
        {v: enc.levels[v] for v in enc.variables},
        float(b0),
        {v: e.copy() for v, e in zip(enc.variables, effs, strict=True)},
        int(enc.keep.sum()),
        int((~ok).sum() + (~enc.keep).sum()),
    )


def likely_voter_frame(
    frame: pd.DataFrame,
    propensity: TurnoutModel | np.ndarray | None,
    *,
    count: str = "n",
    by: str = "state",
    totals: pd.Series | None = None,
) -> pd.DataFrame:
    """Turn a frame of adults into a frame of voters (column ``voters``).

    Parameters
    ----------
    frame : poststratification cells with a ``count`` column.
    propensity : a :class:`TurnoutModel`, an array of per-row propensities, or None (1).
    by : the domain whose totals are calibrated (state).
    totals : certified total votes per domain value (e.g. ``election_results(2020)`` indexed by
        ``state_po``, column ``total_votes``); each domain is scaled to its total. Without
        totals, voters = count × propensity.
    """
    if count not in frame.columns:
        raise DataError(f"frame has no count column {count!r}")
    p = (
        np.ones(len(frame))
        if propensity is None
        else propensity.predict(frame)
        if isinstance(propensity, TurnoutModel)
        else np.asarray(propensity, dtype=float)
    )
    if p.shape != (len(frame),) or not np.isfinite(p).all() or (p < 0).any():
        raise DataError("turnout propensities must be finite, >= 0, one per frame row")
    out = frame.copy()
    voters = frame[count].to_numpy(dtype=float) * p
    if totals is not None:
        dom = frame[by].astype(str)
        cur = pd.Series(voters).groupby(dom.to_numpy()).sum()
        lacking = sorted(set(cur.index) - set(totals.index.astype(str)))
        if lacking:
            raise DataError(f"certified totals lack {by} values {lacking}")
        scale = totals.astype(float).reindex(cur.index) / cur
        voters = voters * dom.map(scale).to_numpy(dtype=float)
    out["voters"] = voters
    return out


__all__ = ["TurnoutModel", "turnout_propensity", "likely_voter_frame"]
