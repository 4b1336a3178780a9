"""Small-area hybrid estimator: a Fay-Herriot composite of each domain's rectified estimate.

Per-domain PPI (:func:`calib.hybrid.ppi_mean` with ``by=``) is unbiased but needs enough
humans in every domain; a rectifier borrowed from a coarser stratum (the harness's ``ppi``)
is a *synthetic* estimator whose interval leaves out the domain's own deviation from the
stratum's bias. This module does what small-area estimation does with such data: it combines
each domain's **direct** rectified estimate with a **synthetic** one from a model of the
rectifier across domains, and its interval counts the between-domain variance and the
estimation of the model.

Scale. The LLM's response bias is modelled on the **logit scale**, where a constant log-odds
shift (the simulated LLM's bias; a common finding for LLM answers) is the same in every
domain, while on the probability scale it is not (0.45 at p = 0.35 and 0.28 at p = 0.65 for a
shift of 2). For domain ``d`` with weighted persona mean ``f_d`` and, from its ``n_d`` humans,
the weighted means ``Y_d`` of their real answers and ``Yhat_d`` of the LLM's answers for them,
the direct estimate is the domain's PPI with ``lambda = 1``, written as a logit shift of
``f_d``::

    b_d^dir = logit(f_d + Y_d - Yhat_d) - logit(f_d)      (direct rectifier)
    theta_d = expit(logit(f_d) + b_d)

(``f_d + Y_d - Yhat_d`` kept inside ``[c, 1 - c]``, ``c = 1 / (2 (n_e + 1))`` with ``n_e`` the
Kish effective size of the domain's humans). The shift of the domain *means* is the target, so
nothing assumes the bias is the same for every person. A logit difference of the two human
means (``logit Y_d - logit Yhat_d``) was tried first: with LLM shares near 0.9 its sampling
variance was 2.6 times larger.

Model (Fay & Herriot 1979, area level): ``b_d^dir = b_d + e_d``, ``e_d ~ N(0, D_d)``;
``b_d = x_d' beta + u_d``, ``u_d ~ N(0, A)``, with ``x_d`` an intercept, dummies of ``groups``
(e.g. region) and domain-level ``predictors`` (e.g. the past vote). ``A`` (``var_between``) is
estimated by **REML** (Fisher scoring as R ``sae::eblupFH``, truncated at 0); ``beta`` by GLS.
The composite (EBLUP) is ``gamma_d b_d^dir + (1 - gamma_d) x_d' beta`` with
``gamma_d = A / (A + D_d)`` (``weight_direct``). Its MSE is the second-order
Prasad-Rao / Datta-Lahiri estimator for REML (Prasad & Rao 1990; Datta & Lahiri 2000)::

    mse_d = g1_d + g2_d + 2 g3_d,   g1 = gamma D,   g2 = (1-gamma)^2 x'(X'V^-1X)^-1 x,
    g3 = (1-gamma)^2 Var(A) / (A + D),   Var(A) = 2 / sum (A + D_i)^-2

(as ``sae::mseFH(method="REML")``). Domains with 0 or 1 human get the synthetic estimate
``x_d' beta`` (``weight_direct`` 0) with MSE ``A + x'(X'V^-1X)^-1 x``.

Sampling variances ``D_d`` are **smoothed** (a generalized variance function, Rao & Molina
2015, sec. 6.1), not each domain's own residual variance, so they cannot vanish at small
``n_d`` and are not correlated with the direct estimate: the variance of the rectifier
``Y - Yhat`` at the domain's expected rates (``f_d`` for the LLM, the synthetic
``q_d = expit(logit f_d + x_d' beta)`` for the humans; a pooled within-domain correlation
``rho`` of the two answers; pooled dispersions, 1 for 0/1 answers), times the Kish factor
``sum v^2 / (sum v)^2`` of the domain's human weights, over ``(q_d (1 - q_d))^2`` (delta
method); rates from a pooled rectifier first, then once more from the fitted model. The
persona arm (independent of the humans) adds ``c_d^2 Var(f_d)`` with
``c_d = (1 - gamma_d) / (f_d (1 - f_d)) + gamma_d / (theta_d (1 - theta_d))``. Intervals are normal on the logit scale,
mapped back (inside [0, 1]); ``se`` is the delta-method standard error on the probability
scale.

Assumptions: the humans of a domain are a (weighted) sample of its population, paired with
the LLM's answers for them; the persona weights reproduce the domain's population; the
rectifier's deviations from the model are exchangeable across domains (normal, common ``A``);
enough domains (say 20+) to estimate ``A``.

References: Fay, R. E. & Herriot, R. A. (1979), JASA 74, 269-277. Prasad, N. G. N. & Rao,
J. N. K. (1990), JASA 85, 163-171. Datta, G. S. & Lahiri, P. (2000), Statistica Sinica 10,
613-627. Rao, J. N. K. & Molina, I. (2015), *Small Area Estimation*, 2nd ed., Wiley.

Examples
--------
>>> import numpy as np, pandas as pd
>>> rng = np.random.default_rng(0)
>>> dom = np.repeat([f"s{i}" for i in range(30)], 200)
>>> p = pd.DataFrame({"s": dom, "llm": (rng.random(dom.size) < 0.6).astype(int)})
>>> hd = rng.choice([f"s{i}" for i in range(30)], 300)
>>> y = (rng.random(300) < 0.4).astype(int)
>>> h = pd.DataFrame({"s": hd, "y": y, "llm": (rng.random(300) < 0.6).astype(int)})
>>> t = small_area(p, h.iloc[1:], "llm", "y", "s")
>>> len(t), sorted(set(t["estimator"]))
(30, ['composite'])
>>> bool(t["ci_low"].lt(t["ci_high"]).all())
True
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Unpack

import numpy as np
import pandas as pd
from scipy.special import expit, logit

from calib.core.cells import format_level
from calib.core.errors import DataError
from calib.core.util import kish_ess_sums, z_value
from calib.hybrid.ppi import COLUMNS, ArmOptions, arm_variance, binary, build_arms, check_level

#: Output columns: those of :data:`calib.hybrid.ppi.COLUMNS` plus the small-area ones.
SMALL_AREA_COLUMNS: tuple[str, ...] = (*COLUMNS, "estimator", "weight_direct", "var_between")

#: Domains with fewer humans than this get the synthetic estimate (no direct component).
MIN_DIRECT = 2


@dataclass(frozen=True)
class FHFit:
    """A Fay-Herriot fit (REML) of direct estimates ``y`` with sampling variances ``D``."""

    var_between: float  # A
    beta: np.ndarray
    cov_beta: np.ndarray  # (X' V^-1 X)^-1
    gamma: np.ndarray  # A / (A + D): weight on the direct estimate
    eblup: np.ndarray
    g1: np.ndarray
    g2: np.ndarray
    g3: np.ndarray
    mse: np.ndarray  # g1 + g2 + 2 g3 (Datta-Lahiri for REML)
    iterations: int
    converged: bool

    def synthetic(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Synthetic estimate ``x' beta`` and its MSE ``A + x' cov_beta x`` for new domains
        (rows of ``x``).

        >>> f = fay_herriot(np.array([0.0, 1.0, 2.0]), np.ones(3), np.ones((3, 1)))
        >>> [float(v) for v in f.synthetic(np.ones((1, 1)))[0]]
        [1.0]
        """
        x = np.atleast_2d(np.asarray(x, dtype=float))
        return x @ self.beta, self.var_between + np.einsum("ij,jk,ik->i", x, self.cov_beta, x)


def fay_herriot(
    y: np.ndarray, vardir: np.ndarray, x: np.ndarray, *, maxiter: int = 100, tol: float = 1e-10
) -> FHFit:
    """Fay-Herriot EBLUP with REML for ``A`` and the Datta-Lahiri MSE (as R ``sae``).

    ``A`` is found by Fisher scoring from ``median(vardir)`` (``sae::eblupFH``'s start),
    kept >= 0; the MSE is ``g1 + g2 + 2 g3`` (``sae::mseFH(method="REML")``).

    Parameters
    ----------
    y : direct estimates (m domains).
    vardir : their sampling variances ``D_d`` (> 0).
    x : m x p design matrix of full column rank, p < m.

    Examples
    --------
    With equal ``D`` REML has a closed form: ``A = RSS / (m - p) - D``.

    >>> f = fay_herriot(np.array([0.0, 2.0, 4.0, 6.0]), np.ones(4), np.ones((4, 1)))
    >>> round(f.var_between, 10), round(float(f.gamma[0]), 10)
    (5.6666666667, 0.85)
    """
    y, d, x = (np.asarray(a, dtype=float) for a in (y, vardir, x))
    m, p = x.shape
    if y.shape != (m,) or d.shape != (m,):
        raise DataError(f"fay_herriot: y has {y.size} values, vardir {d.size}, x {m} rows")
    if m <= p:
        raise DataError(f"fay_herriot: {m} domains for {p} regression coefficients; the "
                        "model needs more domains with humans than coefficients (drop "
                        "predictors or groups)")
    if not (np.all(np.isfinite(d)) and np.all(d > 0)):
        raise DataError("fay_herriot: sampling variances must be finite and > 0")
    if np.linalg.matrix_rank(x) < p:
        raise DataError("fay_herriot: the predictors are collinear among the domains with "
                        "humans (a group with no such domain, or a constant predictor)")
    a = float(np.median(d))
    converged, iterations = False, 0
    while iterations < maxiter:
        iterations += 1
        vi = 1.0 / (a + d)
        xtvi = (x * vi[:, None]).T
        q = np.linalg.inv(xtvi @ x)
        pm = np.diag(vi) - xtvi.T @ q @ xtvi
        py = pm @ y
        score = -0.5 * np.trace(pm) + 0.5 * float(py @ py)
        info = 0.5 * float(np.sum(pm * pm))  # tr(P P), P symmetric
        new = max(float(a + score / info), 0.0)
        step = abs(new - a)
        a = new
        if step <= tol * max(1.0, a) or (a == 0.0 and score <= 0):
            converged = True
            break
    vi = 1.0 / (a + d)
    xtvi = (x * vi[:, None]).T
    q = np.linalg.inv(xtvi @ x)
    beta = q @ (xtvi @ y)
    gamma = a * vi
    xb = x @ beta
    eblup = xb + gamma * (y - xb)
    b = d * vi  # 1 - gamma
    g1 = d * gamma
    g2 = b**2 * np.einsum("ij,jk,ik->i", x, q, x)
    var_a = 2.0 / float(np.sum(vi**2))
    g3 = b**2 * var_a * vi
    return FHFit(a, beta, q, gamma, eblup, g1, g2, g3, g1 + g2 + 2 * g3, iterations, converged)


def _rect_var(qy: np.ndarray, qh: np.ndarray, phi_y: float, phi_h: float, rho: float
              ) -> np.ndarray:
    """Per-unit variance of the rectifier ``Y - Yhat`` at rates ``qy``, ``qh`` (dispersions
    ``phi``, correlation ``rho``)."""
    vy, vh = phi_y * qy * (1 - qy), phi_h * qh * (1 - qh)
    return vy + vh - 2 * rho * np.sqrt(vy * vh)


def _pooled(y: np.ndarray, yh: np.ndarray, hcode: np.ndarray, fit_dom: np.ndarray
            ) -> tuple[float, float, float]:
    """Pooled within-domain dispersions (variance over p(1-p); 1 for 0/1 answers) of the human
    and LLM answers and their pooled within-domain correlation, over the fitted domains."""
    keep = fit_dom[hcode]
    y, yh, code = y[keep], yh[keep], hcode[keep]
    cnt = np.bincount(code)
    ok = cnt > 0
    my = np.bincount(code, y)[ok] / cnt[ok]
    mh = np.bincount(code, yh)[ok] / cnt[ok]
    pos = np.cumsum(ok) - 1
    ry, rh = y - my[pos[code]], yh - mh[pos[code]]
    dof = float(np.sum(cnt[ok] - 1))

    def phi(x: np.ndarray, r: np.ndarray, mm: np.ndarray) -> float:
        if binary(x):
            return 1.0
        bern = float(np.sum(cnt[ok] * mm * (1 - mm))) / dof
        return float(np.sum(r**2) / dof / bern) if bern > 0 else 1.0

    syy, shh = float(np.sum(ry**2)), float(np.sum(rh**2))
    rho = float(np.sum(ry * rh) / np.sqrt(syy * shh)) if syy > 0 and shh > 0 else 0.0
    return phi(y, ry, my), phi(yh, rh, mh), float(np.clip(rho, -0.99, 0.99))


def _labels(col: pd.Series, by: str, what: str) -> np.ndarray:
    """Domain labels of a column (:func:`format_level` on its distinct values only)."""
    codes, uniques = pd.factorize(col, use_na_sentinel=True)
    if (codes < 0).any():
        raise DataError(f"by={by!r}: {int((codes < 0).sum())} {what} rows have no domain; drop "
                        "them or fill the column")
    return np.array([format_level(u) for u in uniques], dtype=object)[codes].astype(str)


def _domains(col: pd.Series, labels: np.ndarray, by: str, domains: Sequence[str] | None
             ) -> list[str]:
    present = set(np.unique(labels).tolist())
    if domains is None:
        if isinstance(col.dtype, pd.CategoricalDtype):
            return [c for c in (format_level(x) for x in col.cat.categories) if c in present]
        return sorted(present)
    out = [format_level(x) for x in domains]
    missing = [d for d in out if d not in present]
    if missing:
        raise DataError(f"domains {missing} have no persona in by={by!r}; the small-area "
                        "estimate starts from the domain's persona mean: drop them or add "
                        "personas there")
    return out


def _group_columns(pframe: pd.DataFrame, pcode: np.ndarray, doms: list[str], by: str,
                   groups: Sequence[str]) -> tuple[list[np.ndarray], list[str]]:
    """Dummies (first level dropped) of domain-level categorical columns."""
    nd = len(doms)
    cols, names = [], []
    for g in groups:
        if g not in pframe.columns:
            raise DataError(f"groups: {g!r} is not a column of the personas; name a domain-level "
                            "grouping such as 'region'")
        lab = pframe[g].astype(str).to_numpy()
        per = pd.DataFrame({"d": pcode, "g": lab}).groupby("d")["g"].agg(["nunique", "first"])
        bad = [doms[i] for i in per.index[per["nunique"].to_numpy() > 1]]
        if bad:
            raise DataError(f"groups: {g!r} varies within domains {bad[:5]} of by={by!r}; a "
                            "group must be constant within each domain (e.g. region by state)")
        val = per["first"].reindex(range(nd)).to_numpy()
        for lv in sorted(set(val))[1:]:
            cols.append((val == lv).astype(float))
            names.append(f"{g}[{lv}]")
    return cols, names


def _predictor_columns(pframe: pd.DataFrame, w: np.ndarray, pcode: np.ndarray, doms: list[str],
                       predictors: Sequence[str] | pd.DataFrame | None
                       ) -> tuple[list[np.ndarray], list[str]]:
    """Numeric domain-level predictors: a table indexed by domain, or persona columns (the
    domain's weighted mean)."""
    nd = len(doms)
    if predictors is None:
        return [], []
    if isinstance(predictors, pd.DataFrame):
        tab = predictors.copy()
        tab.index = [format_level(i) for i in tab.index]
        missing = [d for d in doms if d not in tab.index]
        if missing:
            raise DataError(f"predictors: no row for domains {missing[:5]}; give every domain a "
                            "value (index = domain)")
        raw = {str(c): tab.loc[doms, c] for c in tab.columns}
    else:
        absent = [c for c in predictors if c not in pframe.columns]
        if absent:
            raise DataError(f"predictors: {absent} are not columns of the personas; pass a "
                            "DataFrame indexed by domain instead")
        raw = {c: pframe[c] for c in predictors}
    cols = []
    for c, col in raw.items():
        v = pd.to_numeric(col, errors="coerce").to_numpy(dtype=float)
        if not np.all(np.isfinite(v)):
            raise DataError(f"predictors: column {c!r} has missing or non-numeric values")
        cols.append(v if isinstance(predictors, pd.DataFrame)
                    else np.bincount(pcode, w * v, nd) / np.bincount(pcode, w, nd))
    return cols, list(raw)


def _design_matrix(
    pframe: pd.DataFrame, w: np.ndarray, pcode: np.ndarray, doms: list[str], by: str,
    groups: Sequence[str], predictors: Sequence[str] | pd.DataFrame | None,
) -> tuple[np.ndarray, list[str]]:
    """Intercept, group dummies (first level dropped) and numeric predictors per domain."""
    gc, gn = _group_columns(pframe, pcode, doms, by, groups)
    pc, pn = _predictor_columns(pframe, w, pcode, doms, predictors)
    return np.column_stack([np.ones(len(doms)), *gc, *pc]), ["(Intercept)", *gn, *pn]


def small_area(
    personas: Any,
    human: Any,
    outcome: str,
    human_outcome: str,
    by: str,
    *,
    groups: Sequence[str] = (),
    predictors: Sequence[str] | pd.DataFrame | None = None,
    domains: Sequence[str] | None = None,
    level: float = 0.95,
    **arm_options: Unpack[ArmOptions],
) -> pd.DataFrame:
    """Small-area (Fay-Herriot, logit-scale rectifier) estimates of a share for every domain.

    Parameters
    ----------
    personas : :class:`calib.Sample` (its weights; strata/clusters enter the persona arm's
        variance) or DataFrame with the LLM answer ``outcome`` (0/1, or a mean in [0, 1]) and
        ``by``.
    human : DataFrame (or Sample) of humans with their answer ``human_outcome``, the LLM's
        answer for them in ``outcome`` and ``by``.
    by : the domain column (e.g. ``state``).
    **arm_options : :class:`calib.hybrid.ppi.ArmOptions` -- ``persona_weight``,
        ``human_weight`` (weight column, array or None for DataFrames), ``prediction``
        (``"llm"``, default: the LLM's answer for each human in ``outcome``; ``"cell"``: the
        weighted persona mean of the human's ``cells``) and ``cells``.
    groups : domain-level categorical columns of the personas (constant within a domain, e.g.
        ``region``): fixed effects of the rectifier model.
    predictors : numeric domain-level predictors: persona column names (the domain's weighted
        mean is used) or a DataFrame indexed by domain (e.g. the past vote share).
    domains : the domains to report (default: every domain of the personas). Each gets a row,
        whatever its number of humans.
    level : confidence level.

    Returns
    -------
    DataFrame with :data:`SMALL_AREA_COLUMNS`, one row per domain: ``estimator`` is
    ``composite`` (>= 2 humans) or ``synthetic``; ``weight_direct`` = ``gamma_d``;
    ``var_between`` = ``A`` (logit scale); ``lambda`` = 1 where the domain has humans, empty
    otherwise; ``ess`` = simple-random humans with the same variance (``theta(1-theta)/se^2``);
    ``n_effective_human`` = humans under the domain's design a human-only estimate would need.
    ``attrs`` hold the fit (``beta``, ``names``, ``rho``, ``phi``, ``converged``).

    Examples
    --------
    >>> p = pd.DataFrame({"s": list("aabbccdd") * 50, "llm": [1, 0, 1, 1, 0, 0, 1, 0] * 50})
    >>> h = pd.DataFrame({"s": list("aabbccd"), "y": [1, 0, 1, 0, 0, 1, 1],
    ...                   "llm": [1, 1, 1, 0, 0, 0, 1]})
    >>> t = small_area(p, h, "llm", "y", "s")
    >>> t[["domain", "estimator", "n_human"]].values.tolist()
    [['a', 'composite', 2.0], ['b', 'composite', 2.0], ['c', 'composite', 2.0], ['d', 'synthetic', 1.0]]
    """
    check_level(level)
    arms, pframe, hframe = build_arms(personas, human, outcome, human_outcome, **arm_options)
    for x, what in ((arms.f, f"personas' {outcome!r}"), (arms.y, f"humans' {human_outcome!r}"),
                    (arms.yhat, f"humans' {outcome!r}")):
        if np.any((x < 0) | (x > 1)):
            raise DataError(f"small_area models the rectifier on the logit scale: {what} must "
                            "be 0/1 answers (or means in [0, 1]); recode the answer")
    for fr, what in ((pframe, "personas"), (hframe, "human")):
        if by not in fr.columns:
            raise DataError(f"by={by!r} is not a column of the {what}; pass a shared column")
    plab = _labels(pframe[by], by, "persona")
    hlab = _labels(hframe[by], by, "human")
    doms = _domains(pframe[by], plab, by, None)
    report = _domains(pframe[by], plab, by, domains) if domains is not None else doms
    nd = len(doms)
    orphan = sorted(set(np.unique(hlab).tolist()) - set(doms))
    if orphan:
        raise DataError(f"humans in by={by!r} domains {orphan[:5]} with no persona; drop them or "
                        "add personas there")
    order = np.array(doms)
    sorter = np.argsort(order)
    pcode = sorter[np.searchsorted(order, plab, sorter=sorter)]
    hcode = sorter[np.searchsorted(order, hlab, sorter=sorter)].astype(int)

    # persona arm per domain
    pw = np.bincount(pcode, arms.w, nd)
    fbar = np.bincount(pcode, arms.w * arms.f, nd) / pw
    ne_p = kish_ess_sums(pw, np.bincount(pcode, arms.w**2, nd))
    var_p = np.array([arm_variance(arms.f[pcode == i], arms.w[pcode == i], arms.pdesign,
                                   None if arms.pdesign is None else np.flatnonzero(pcode == i))
                      for i in range(nd)])
    eps = 0.5 / ne_p
    qf = np.clip(fbar, eps, 1 - eps)

    # human arm per domain
    n_h = np.bincount(hcode, minlength=nd)
    sv = np.bincount(hcode, arms.v, nd)
    sv2 = np.bincount(hcode, arms.v**2, nd)
    with np.errstate(invalid="ignore", divide="ignore"):
        ybar = np.bincount(hcode, arms.v * arms.y, nd) / sv
        hbar = np.bincount(hcode, arms.v * arms.yhat, nd) / sv
        kish = sv2 / sv**2  # 1/n_e of the domain's human weights
    fit_dom = n_h >= MIN_DIRECT
    if int(fit_dom.sum()) < 3:
        raise DataError(f"small_area: only {int(fit_dom.sum())} domains of by={by!r} have >= "
                        f"{MIN_DIRECT} humans; the between-domain model needs more (use a "
                        "coarser by= or ppi with a pooled rectifier)")
    ne_h = np.where(fit_dom, 1.0 / np.where(fit_dom, kish, 1.0), 0.0)
    # direct: the domain's PPI (lambda = 1) on the probability scale, as a logit shift of f_d
    lo_h = 0.5 / (ne_h + 1.0)
    with np.errstate(invalid="ignore"):
        theta_dir = np.clip(fbar + ybar - hbar, lo_h, 1 - lo_h)
        direct = logit(theta_dir) - logit(qf)
    phi_y, phi_h, rho = _pooled(arms.y, arms.yhat, hcode, fit_dom)

    x, names = _design_matrix(pframe, arms.w, pcode, doms, by, groups, predictors)
    fx = x[fit_dom]
    keep = np.any(fx != fx[0], axis=0) | (np.arange(x.shape[1]) == 0)
    if not keep.all():
        dropped = [n for n, k in zip(names, keep, strict=True) if not k]
        warnings.warn(f"small_area: {dropped} constant among the domains with >= {MIN_DIRECT} "
                      "humans (a group with no such domain); dropped from the rectifier model, "
                      "so those domains get the other groups' rectifier", UserWarning,
                      stacklevel=2)
    x, fx, names = x[:, keep], fx[:, keep], [n for n, k in zip(names, keep, strict=True) if k]
    # smoothed sampling variances: rates from the pooled rectifier, then from the model's fit
    hv = fit_dom[hcode]
    r0 = np.sum(arms.v[hv] * (arms.y[hv] - arms.yhat[hv])) / arms.v[hv].sum()
    syn = logit(np.clip(qf + r0, 0.01, 0.99)) - logit(qf)
    for _ in range(2):
        qy = expit(logit(qf) + syn)
        dvar = kish * _rect_var(qy, qf, phi_y, phi_h, rho) / (qy * (1 - qy)) ** 2
        fh = fay_herriot(direct[fit_dom], dvar[fit_dom], fx)
        syn, syn_mse = fh.synthetic(x)
    comp, mse_b = syn.copy(), syn_mse.copy()
    gamma = np.zeros(nd)
    comp[fit_dom], mse_b[fit_dom], gamma[fit_dom] = fh.eblup, fh.mse, fh.gamma

    eta = logit(qf) + comp
    theta = expit(eta)
    # persona arm (independent of the humans): logit(f) enters through the synthetic part and
    # through the direct part's logit(f + Y - Yhat); first-order (delta-method) coefficient
    coef = (1 - gamma) / (qf * (1 - qf)) + gamma / (theta * (1 - theta))
    mse = mse_b + coef**2 * var_p
    z = z_value(level)
    se = theta * (1 - theta) * np.sqrt(mse)
    lo, hi = np.clip(expit(eta - z * np.sqrt(mse)), 0, 1), np.clip(expit(eta + z * np.sqrt(mse)), 0, 1)
    ess = theta * (1 - theta) / se**2
    deff_k = np.where(n_h > 0, n_h * np.nan_to_num(kish, nan=1.0), 1.0)
    n_p = np.bincount(pcode, minlength=nd)
    out = pd.DataFrame({
        "outcome": outcome, "level": pd.NA, "by": by, "domain": doms, "estimate": theta,
        "se": se, "ci_low": lo, "ci_high": hi, "n": (n_p + n_h).astype(float), "ess": ess,
        "deff": np.where(n_h > 0, n_h / ess, np.nan), "n_human": n_h.astype(float),
        "n_effective_human": phi_y * ess / deff_k,
        "lambda": np.where(n_h > 0, 1.0, np.nan),
        "estimator": np.where(fit_dom, "composite", "synthetic"), "weight_direct": gamma,
        "var_between": fh.var_between,
    })  # fmt: skip
    out = out.set_index("domain", drop=False).loc[report].reset_index(drop=True)
    out.attrs.update({"beta": dict(zip(names, fh.beta.tolist(), strict=True)), "rho": rho,
                      "phi": (phi_y, phi_h), "converged": fh.converged, "method": "REML"})
    return out[list(SMALL_AREA_COLUMNS)]


__all__ = ["small_area", "fay_herriot", "FHFit", "SMALL_AREA_COLUMNS", "MIN_DIRECT"]
