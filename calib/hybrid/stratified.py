"""Stratified PPI++: one PPI++ estimate per stratum, combined with population stratum shares.

For strata ``h`` (cells or domains such as state or region) with population shares ``W_h``::

    theta = sum_h W_h theta_h,        V = sum_h W_h^2 V_h

where ``theta_h`` is the PPI++ estimate from the personas and humans of stratum ``h`` with its
own tuned ``lam_h`` (:func:`calib.hybrid.ppi.fit_arms`). The shares are the population's
(``shares=`` a mapping/Series of totals or shares, e.g. CVAP by state); by default the persona
weights' stratum totals, which equal the census when the personas were weighted to census
targets that include the stratum. The interval is then valid for the target population even
when the human sample's allocation across strata is far from proportional.

Examples
--------
>>> import numpy as np, pandas as pd
>>> rng = np.random.default_rng(1)
>>> h = pd.DataFrame({"s": rng.choice(["a", "b"], 400)})
>>> h["y"] = (rng.random(400) < np.where(h["s"] == "a", 0.3, 0.6)).astype(int)
>>> h["llm"] = np.where(rng.random(400) < 0.8, h["y"], 1 - h["y"])
>>> p = pd.DataFrame({"s": rng.choice(["a", "b"], 4000)})
>>> p["llm"] = (rng.random(4000) < np.where(p["s"] == "a", 0.35, 0.65)).astype(int)
>>> t = ppi_stratified(p, h, "llm", "y", strata="s", shares={"a": 0.5, "b": 0.5})
>>> t["domain"].tolist()
['a', 'b', 'Total']
>>> bool(abs(t["estimate"].iloc[2] - 0.45) < 0.05)
True
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Unpack

import numpy as np
import pandas as pd

from calib.core.cells import format_level
from calib.core.errors import DataError, TargetError
from calib.core.util import z_value
from calib.hybrid.ppi import (
    COLUMNS,
    SMALL_N,
    TOTAL,
    ArmOptions,
    PPIFit,
    build_arms,
    check_level,
    fit_arms,
    fit_row,
    shared_domains,
    subset_arms,
)


def stratum_shares(
    pframe: pd.DataFrame, w: np.ndarray, strata: str, domains: Sequence[str],
    shares: Mapping[str, float] | pd.Series | None,
) -> np.ndarray:
    """Population shares of ``domains`` (normalised totals), refusing missing strata."""
    if shares is None:
        col = pframe[strata].map(format_level).astype(str)
        tot = pd.Series(w).groupby(col.to_numpy()).sum()
    else:
        tot = pd.Series(dict(shares), dtype=float)
        tot.index = [format_level(i) for i in tot.index]
    missing = [d for d in domains if d not in tot.index]
    if missing:
        raise TargetError(f"strata={strata!r}: no population share for levels {missing}; "
                          "add them to shares=")
    bad = tot[~np.isfinite(tot.to_numpy()) | (tot.to_numpy() < 0)]
    if len(bad):
        raise TargetError(f"strata={strata!r}: invalid shares at {list(bad.index)}; shares must "
                          "be finite and >= 0")
    extra = sorted(set(tot.index[tot.to_numpy() > 0]) - set(domains))
    if extra:
        raise DataError(f"strata={strata!r}: levels {extra[:5]} have population share but no "
                        "human respondents; the stratified estimate would drop them. Merge them "
                        "into neighbouring strata or collect respondents there")
    s = tot.reindex(list(domains)).to_numpy(dtype=float)
    return s / s.sum()


def combine(fits: Sequence[PPIFit], shares: np.ndarray) -> PPIFit:
    """Share-weighted combination of per-stratum fits (``lam`` = share-weighted mean)."""
    est = float(np.sum([s * f.estimate for f, s in zip(fits, shares, strict=True)]))
    var = float(np.sum([s**2 * f.var for f, s in zip(fits, shares, strict=True)]))
    vh = float(np.sum([s**2 * f.var_human_only for f, s in zip(fits, shares, strict=True)]))
    n_h = int(sum(f.n_human for f in fits))
    # per-unit variance of Y at the population level (within + between strata)
    mu = est
    s2 = float(np.sum([s * (f.s2_y + (f.estimate - mu) ** 2) for f, s in
                       zip(fits, shares, strict=True)]))
    lam = float(np.sum([s * f.lam for f, s in zip(fits, shares, strict=True)]))
    # Welch-Satterthwaite degrees of freedom when some stratum uses a t quantile (small n)
    parts = [(s**2 * f.var, f.df) for f, s in zip(fits, shares, strict=True)]
    den = sum(p**2 / d for p, d in parts if np.isfinite(d))
    df = float(var**2 / den) if den > 0 else float("inf")
    return PPIFit(est, var, lam, vh, s2, int(sum(f.n_persona for f in fits)), n_h,
                  float(sum(f.ess_persona for f in fits)), df)


def ppi_stratified(
    personas: Any,
    human: Any,
    outcome: str,
    human_outcome: str,
    strata: str,
    *,
    shares: Mapping[str, float] | pd.Series | None = None,
    lam: float | None = None,
    level: float = 0.95,
    small_n: int = SMALL_N,
    **arm_options: Unpack[ArmOptions],
) -> pd.DataFrame:
    """Stratified PPI++ mean (0/1 answers: a proportion) with population stratum shares.

    Parameters are those of :func:`calib.hybrid.ppi_mean` plus ``strata`` (the stratum
    column, shared by both data sets) and ``shares`` (population totals or shares per stratum
    level; default: the persona weights' totals). Returns one row per stratum (``by=strata``)
    and the combined ``Total`` row; its ``lambda`` is the share-weighted mean of the strata's.
    Every stratum needs at least 2 personas and 2 humans (else an error naming it). Strata with
    fewer than ``small_n`` humans get the small-n corrections of :mod:`calib.hybrid.ppi`; the
    total's interval then uses a t quantile with Welch-Satterthwaite degrees of freedom.
    """
    check_level(level)
    arms, pframe, hframe = build_arms(personas, human, outcome, human_outcome, **arm_options)
    doms = shared_domains(pframe, hframe, strata)
    sh = stratum_shares(pframe, arms.w, strata, doms, shares)
    pcol = pframe[strata].map(format_level).astype(str).to_numpy()
    hcol = hframe[strata].map(format_level).astype(str).to_numpy()
    fits, rows = [], []
    for d in doms:
        pm, hm = pcol == d, hcol == d
        if pm.sum() < 2 or hm.sum() < 2:
            raise DataError(f"strata={strata!r}, level {d!r}: {int(pm.sum())} personas and "
                            f"{int(hm.sum())} humans; each stratum needs at least 2 of each. "
                            "Merge strata or collect more respondents there")
        fit = fit_arms(subset_arms(arms, pm, hm), lam, small_n=small_n)
        fits.append(fit)
        rows.append(fit_row(fit, outcome, pd.NA, strata, d, level))
    tot = combine(fits, sh)
    rows.append(fit_row(tot, outcome, pd.NA, pd.NA, TOTAL, level))
    out = pd.DataFrame(rows, columns=list(COLUMNS))
    out.attrs["shares"] = dict(zip(doms, sh.tolist(), strict=True))
    out.attrs["z"] = z_value(level)  # the large-n quantile (planning)
    return out


__all__ = ["ppi_stratified", "stratum_shares", "combine"]
