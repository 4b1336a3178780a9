"""PPI++ power analysis: how many human respondents a target interval width needs.

From a pilot (personas + a few humans), per stratum: the persona arm's variance ``V_P`` (the
persona set is taken as fixed in size) and the per-respondent (design-including) moments of
the human arm, ``s_yy = n V_H(Y)``, ``s_ff = n V_H(Yhat)``, ``s_yf = n C_H(Y, Yhat)``. With
``n`` humans and the tuned ``lam(n) = clip(s_yf / (n V_P + s_ff), 0, 1)`` the PPI++ variance is::

    V(n) = lam^2 (V_P + s_ff / n) - 2 lam s_yf / n + s_yy / n

and the smallest ``n`` with ``2 z sqrt(V(n)) <= target_width`` is found by bisection. With
strata, humans are allocated Neyman-style, ``n_h`` proportional to ``W_h * sigma_h`` (``sigma_h``
the per-respondent rectifier standard deviation at the pilot's ``lam_h``; at least 2 per
stratum) and the total is the smallest meeting the width for ``sum_h W_h^2 V_h(n_h)``.

Examples
--------
>>> import numpy as np, pandas as pd
>>> rng = np.random.default_rng(2)
>>> h = pd.DataFrame({"y": (rng.random(150) < 0.45).astype(int)})
>>> h["llm"] = np.where(rng.random(150) < 0.85, h["y"], 1 - h["y"])
>>> p = pd.DataFrame({"llm": (rng.random(20000) < 0.5).astype(int)})
>>> plan = plan_human_sample(p, h, 0.05, outcome="llm", human_outcome="y")
>>> int(plan["n_human"].iloc[-1]) > 150, bool(plan["width"].iloc[-1] <= 0.05)
(True, True)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import norm

from calib.core.cells import format_level
from calib.core.errors import DataError, InfeasibleError
from calib.core.literals import Prediction
from calib.hybrid.ppi import (
    TOTAL,
    Arms,
    _check_level,
    _domains,
    _lin_var,
    _scaled,
    _subset,
    build_arms,
    tune_lambda,
)
from calib.hybrid.stratified import stratum_shares


def _moments(a: Arms) -> dict[str, float]:
    n = len(a.y)
    v = _scaled(a.v)
    gy = v * (a.y - np.mean(v * a.y))
    gf = v * (a.yhat - np.mean(v * a.yhat))
    return {"VP": _lin_var(a.f, a.w), "syy": float(np.sum(gy**2) / n),
            "sff": float(np.sum(gf**2) / n), "syf": float(np.sum(gy * gf) / n),
            "lam": tune_lambda(a), "n_pilot": n}


def variance_at(m: Mapping[str, float], n: float) -> tuple[float, float]:
    """PPI++ variance and tuned ``lam`` with ``n`` humans, from pilot moments ``m``."""
    lam = float(np.clip(m["syf"] / (n * m["VP"] + m["sff"]), 0, 1)) if m["sff"] > 0 else 0.0
    v = lam**2 * (m["VP"] + m["sff"] / n) - 2 * lam * m["syf"] / n + m["syy"] / n
    return max(v, 0.0), lam


def plan_human_sample(
    pilot_personas: Any,
    pilot_human: Any,
    target_width: float,
    level: float = 0.95,
    strata: str | None = None,
    *,
    outcome: str,
    human_outcome: str,
    persona_weight: Any = None,
    human_weight: Any = None,
    prediction: Prediction = "llm",
    cells: Sequence[str] | None = None,
    shares: Mapping[str, float] | pd.Series | None = None,
    max_n: int = 10_000_000,
) -> pd.DataFrame:
    """Humans needed for a PPI++ interval of full width ``target_width`` at ``level``.

    Parameters
    ----------
    pilot_personas, pilot_human : the pilot data (as for :func:`calib.hybrid.ppi_mean`).
    target_width : full width ``ci_high - ci_low`` wanted for the (combined) estimate.
    level : confidence level.
    strata : stratum column (both data sets); None for one stratum.
    shares : population stratum shares (default: persona weights' totals).
    max_n : refuse (InfeasibleError) when more humans than this would be needed.

    Returns
    -------
    DataFrame, one row per stratum plus ``Total``: ``stratum, share, n_human`` (recommended),
    ``lambda`` (tuned at that size), ``se, width`` (predicted), ``n_pilot``.
    """
    _check_level(level)
    if not (np.isfinite(target_width) and target_width > 0):
        raise DataError(f"target_width={target_width!r} must be a positive interval width")
    arms, pframe, hframe = build_arms(pilot_personas, pilot_human, outcome, human_outcome,
                                      persona_weight=persona_weight, human_weight=human_weight,
                                      prediction=prediction, cells=cells)
    z = float(norm.ppf(0.5 + level / 2))
    vmax = (target_width / (2 * z)) ** 2
    if strata is None:
        doms, sh, mom = [TOTAL], np.ones(1), [_moments(arms)]
    else:
        doms = _domains(pframe, hframe, strata)
        sh = stratum_shares(pframe, arms.w, strata, doms, shares)
        pcol = pframe[strata].map(format_level).astype(str).to_numpy()
        hcol = hframe[strata].map(format_level).astype(str).to_numpy()
        mom = []
        for d in doms:
            pm, hm = pcol == d, hcol == d
            if pm.sum() < 2 or hm.sum() < 2:
                raise DataError(f"strata={strata!r}, level {d!r}: the pilot has {int(pm.sum())} "
                                f"personas and {int(hm.sum())} humans; each stratum needs 2 of "
                                "each to estimate its variance. Merge strata or extend the pilot")
            mom.append(_moments(_subset(arms, pm, hm)))
    sig = np.array([np.sqrt(max(m["syy"] - 2 * m["lam"] * m["syf"] + m["lam"] ** 2 * m["sff"],
                                1e-12)) for m in mom])
    alloc = sh * sig / np.sum(sh * sig)

    def sizes(total: int) -> np.ndarray:
        return np.maximum(2, np.ceil(total * alloc)).astype(int)

    def total_var(total: int) -> float:
        return float(sum(s**2 * variance_at(m, k)[0]
                         for s, m, k in zip(sh, mom, sizes(total), strict=True)))

    if total_var(max_n) > vmax:
        raise InfeasibleError(f"target_width={target_width}: even {max_n} humans give a wider "
                              "interval; relax the width or raise max_n")
    lo, hi = 1, max_n
    while lo < hi:
        mid = (lo + hi) // 2
        if total_var(mid) <= vmax:
            hi = mid
        else:
            lo = mid + 1
    ns = sizes(lo)
    rows = []
    for d, s, m, k in zip(doms, sh, mom, ns, strict=True):
        v, lam = variance_at(m, k)
        rows.append({"stratum": d, "share": float(s), "n_human": int(k), "lambda": lam,
                     "se": float(np.sqrt(v)), "width": float(2 * z * np.sqrt(v)),
                     "n_pilot": int(m["n_pilot"])})
    if strata is not None:
        v = total_var(lo)
        rows.append({"stratum": TOTAL, "share": 1.0, "n_human": int(ns.sum()),
                     "lambda": float(np.sum(sh * [r["lambda"] for r in rows])),
                     "se": float(np.sqrt(v)), "width": float(2 * z * np.sqrt(v)),
                     "n_pilot": int(sum(m["n_pilot"] for m in mom))})
    return pd.DataFrame(rows)


__all__ = ["plan_human_sample", "variance_at"]
