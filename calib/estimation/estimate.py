"""``estimate``: weighted means, totals and proportions by domain, with standard errors.

Variance options: ``"linearization"`` (Taylor, residualized on every calibration step as R
survey does, with strata and clusters, with-replacement approximation), ``"bootstrap"`` and
``"canty-davison"`` and ``"jackknife"`` (recalibrated replicate weights), ``"none"``.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from calib.core.cells import missing_mask
from calib.core.errors import DataError
from calib.core.progress import progress_bar
from calib.core.sample import Sample
from calib.core.util import kish_ess_sums, z_value
from calib.estimation import domains as _domains
from calib.estimation import replicates as _rep
from calib.estimation.cell_replicates import fast_thetas
from calib.estimation.design import psu_design
from calib.estimation.linearization import calibration_chain, residualize
from calib.estimation.request import VARIANCES, EstimateRequest

COLUMNS = ("outcome", "level", "by", "domain", "estimate", "se", "ci_low", "ci_high", "n",
           "ess", "deff")


def estimate(sample: Sample, outcome: str | EstimateRequest, **options: Any) -> pd.DataFrame:
    """Weighted estimate of ``outcome`` (by domain) with a standard error and interval.

    Parameters
    ----------
    sample : a Sample (weighted or not); its strata/cluster columns define the design.
    outcome : a column, or an :class:`~calib.estimation.request.EstimateRequest` (then
        ``options`` replace its fields).
    **options : the request's fields by keyword:

        by : a domain column; rows with a missing domain value belong to no domain (warned).
        stat : ``"mean"``, ``"total"`` or ``"proportion"`` (a 0/1 numeric outcome, or shares
            of a categorical one).
        variance : ``"linearization"`` (default), ``"bootstrap"`` (Rao-Wu, R's
            ``subbootstrap``; ``"subbootstrap"`` is a synonym), ``"canty-davison"`` (R's
            ``as.svrepdesign(type="bootstrap")``), ``"jackknife"`` or ``"none"`` (se, ci and
            deff are then NaN: not computed).
        level : confidence level of the normal-theory (Wald) interval (default 0.95).
        replicates, seed : bootstrap replicates (default 200) and seed.
        targets_se : include the targets' own sampling error (margins with ``se``);
            bootstrap only: each replicate perturbs the target totals (see
            :mod:`.replicates`).
        lonely : single-PSU strata: ``"error"``, ``"adjust"`` (R >= 4.4), ``"adjust-zero"``
            (R <= 4.3), ``"certainty"``, ``"remove"`` (see :mod:`.design`).
        mse : centre replicate variances at the full-sample estimate instead of the
            replicates' mean (R ``mse=TRUE``; the default follows R's ``mse=FALSE``).
        bootstrap_draw : ``"rows"`` draws every replicate's Rao-Wu factors row by row with
            numpy (the replicates equal those
            :func:`~calib.estimation.replicates.replicate_weights` exports for the same seed);
            ``"groups"`` draws each replicate's cell sums directly, with compiled exact
            multinomial draws (:mod:`~calib.estimation.compiled.grouped`): over groups of
            identical rows when rows collapse to at most a quarter as many groups (a
            categorical outcome), else over (stratum, cell) blocks and then rows within
            blocks; the same distribution as the row draw, reproducible from ``seed``,
            replicates split over threads (``CALIB_THREADS``; results do not depend on it).
            ``"auto"`` (default) is ``"groups"`` from 100,000 rows on.
            ``attrs["bootstrap_draw"]`` says which ran.
        progress : a progress bar over the replicates on stderr (None: when stderr is a
            terminal; see :mod:`calib.core.progress`).

    Returns
    -------
    pandas.DataFrame
        Columns ``outcome, level, by, domain, estimate, se, ci_low, ci_high, n, ess, deff``
        (``n``: rows with the outcome observed in the domain; ``ess``: Kish effective sample
        size of their weights; ``deff``: variance over that of a simple random sample with
        replacement of ``n`` rows, R's ``deff="replace"``). ``attrs``: ``variance``,
        ``variance_components`` (what the interval includes), ``missing`` (rows left out for
        a missing outcome), ``missing_by``, and for replicates ``replicates`` (and
        ``bootstrap_draw``).

    Raises
    ------
    DataError
        Unknown options, missing columns, a single-PSU stratum with ``lonely="error"``, a
        replicate that cannot be recalibrated.

    Examples
    --------
    >>> import pandas as pd
    >>> from calib import Sample
    >>> df = pd.DataFrame({"y": [1.0, 2.0, 3.0, 4.0], "g": list("aabb")})
    >>> est = estimate(Sample(df), "y")
    >>> est[["estimate", "se", "n"]].round(6).values.tolist()
    [[2.5, 0.645497, 4.0]]
    >>> estimate(Sample(df), "y", by="g")["estimate"].tolist()
    [1.5, 3.5]
    >>> estimate(Sample(df), EstimateRequest("y", by="g"))["estimate"].tolist()
    [1.5, 3.5]
    """
    req = EstimateRequest.of(outcome, **options)
    est = _domains_of(sample, req)
    w = sample.weight_array
    theta = est.point(w)
    n = est.domain_sums(np.ones(w.size))
    sw = est.domain_sums(w)
    empty = sw <= 0
    if empty.any():
        bad = est.labels[empty].iloc[0]
        raise DataError(
            f"outcome {req.outcome!r} level {bad['level']!r} in domain {bad['domain']!r} of "
            f"{req.by!r}: no weight (no observed rows); drop that domain")
    spread = _variance(sample, est, w, theta, req)
    var = spread.var
    se = np.sqrt(var)
    z = z_value(req.level)
    with np.errstate(divide="ignore", invalid="ignore"):  # a constant outcome: deff 0/0 = NaN
        deff = var / _srs_variance(est, w, theta, n, sw) if req.variance != "none" else var
    out = est.labels.copy()
    out["estimate"] = theta
    out["se"] = se
    out["ci_low"] = theta - z * se
    out["ci_high"] = theta + z * se
    out["n"] = n.astype(np.int64)
    out["ess"] = kish_ess_sums(sw, est.domain_sums(w**2))
    out["deff"] = deff
    out = out[list(COLUMNS)]
    out.attrs.update(
        variance=req.variance, variance_components=spread.components, level=req.level,
        stat=req.stat, missing=est.missing, missing_by=est.missing_by, **spread.extra)
    return out


def _domains_of(sample: Sample, req: EstimateRequest) -> _domains.Estimands:
    """The estimator of the request's outcome by domain; rows left out are warned about
    (``stacklevel`` names the caller of :func:`estimate`)."""
    frame = sample.frame
    if req.missing != "drop":
        frame = _missing_policy(frame, req)
    est = _domains.build(frame, req.outcome, req.by, req.stat,
                         missing_level=req.missing == "level")
    if est.missing:
        warnings.warn(
            f"outcome {req.outcome!r}: {est.missing} rows with a missing value are left out of "
            "its estimates (df.attrs['missing'])", UserWarning, stacklevel=3)
    if est.missing_by:
        warnings.warn(
            f"by={req.by!r}: {est.missing_by} rows with a missing domain value belong to no "
            "domain (df.attrs['missing_by'])", UserWarning, stacklevel=3)
    return est


def _missing_policy(frame: pd.DataFrame, req: EstimateRequest) -> pd.DataFrame:
    """``missing="error"``: refuse missing outcome or domain values, naming the count and
    the first (1-based data) row; ``"level"``: refuse it for a numeric outcome with missing
    values (:func:`.domains.build` makes the level ``"Missing"``)."""
    out = frame
    for col, what in ((req.outcome, "outcome"), (req.by, "by")):
        if col is None or col not in frame.columns:
            continue  # build() names a missing column
        miss = missing_mask(frame[col])
        if not miss.any():
            continue
        if req.missing == "error":
            raise DataError(
                f"{what} {col!r}: {int(miss.sum())} rows have a missing value (blank, NA, "
                f"refused ...; first in row {int(np.flatnonzero(miss)[0]) + 1}); drop them "
                "(missing='drop', --missing drop) or keep them as a level "
                "(missing='level', --missing level)")
        values = frame[col]
        if what == "outcome" and (pd.api.types.is_numeric_dtype(values.dtype)
                                  or pd.api.types.is_bool_dtype(values.dtype)):
            raise DataError(
                f"outcome {col!r} is numeric: its {int(miss.sum())} missing values cannot be "
                "a level; use missing='drop' (--missing drop) or impute them")
    return out


@dataclass(frozen=True)
class _Spread:
    """The variance of each estimate, what it includes, and attrs of the replicate path."""

    var: np.ndarray
    components: str
    extra: dict[str, Any] = field(default_factory=dict)


def _variance(sample: Sample, est: _domains.Estimands, w: np.ndarray, theta: np.ndarray,
              req: EstimateRequest) -> _Spread:
    if req.variance == "none":
        return _Spread(np.full(theta.shape, np.nan), "none")
    if req.variance == "linearization":
        d = psu_design(sample, lonely=req.lonely)
        chain, exact = calibration_chain(sample)
        x = residualize(est.influence(w), chain) if chain else est.influence(w)
        return _Spread(d.variance(x), _components_lin(sample, chain, exact))
    return _replicate_variance(sample, est, theta, req)


def _replicate_variance(sample: Sample, est: _domains.Estimands, theta: np.ndarray,
                        req: EstimateRequest) -> _Spread:
    """Bootstrap or jackknife: recalibrated replicates, the compiled cell path when it
    applies (:func:`~calib.estimation.compiled.cell_replicates.fast_thetas`), else rows."""

    p = _rep.plan(sample, req.variance, req.n_replicates, req.seed, req.lonely)
    chain, _ = calibration_chain(sample)
    grouped = req.bootstrap_draw == "groups" or (req.bootstrap_draw == "auto"
                                                 and sample.n >= _rep.GROUP_MIN_ROWS)
    with progress_bar(p.n_rep, f"{p.method} replicates", req.progress) as advance:
        fast = fast_thetas(sample, p, chain, est, req.targets_se, grouped=grouped,
                           advance=advance)
        thetas, draw = fast if fast is not None else (None, "rows")
        if thetas is None:
            thetas = np.empty((p.n_rep, theta.size))
            for a, b in _rep.chunks(sample.n, p.n_rep):
                thetas[a:b] = est.point(
                    _rep.replicate_rows(sample, p, a, b, req.targets_se, chain))
                advance(b - a)
    if not np.isfinite(thetas).all():
        raise DataError(
            f"outcome {req.outcome!r}: some {p.method} replicates have no weight in a domain "
            f"of {req.by!r}; use fewer/larger domains or variance='linearization'")
    centre = theta if req.mse else (thetas[p.rscales > 0].mean(axis=0))
    var = p.scale * (p.rscales[:, None] * (thetas - centre[None, :]) ** 2).sum(axis=0)
    extra: dict[str, Any] = {"replicates": p.n_rep, "replicate_type": p.method}
    if p.method == "bootstrap":
        extra["bootstrap_draw"] = draw
    return _Spread(var, _components_rep(sample, p.method, p.n_rep, req.targets_se), extra)


def _srs_variance(est, w, theta, n, sw) -> np.ndarray:
    """Variance under simple random sampling with replacement of ``n`` rows (R deff='replace')."""
    if est.stat == "mean":
        s2 = est.squared_deviations(w, theta) / sw
    else:
        s2 = est.squared_deviations(w, est.outcome_sums(w) / sw) / sw
    with np.errstate(divide="ignore", invalid="ignore"):
        s2 = s2 * n / (n - 1)
        v = s2 / n if est.stat == "mean" else s2 * sw**2 / n
    return v


def _design_words(sample: Sample) -> str:
    parts = []
    if sample.strata:
        parts.append(f"strata {sample.strata!r}")
    if sample.cluster:
        parts.append(f"clusters {sample.cluster!r}")
    return "sampling (" + (", ".join(parts) or "rows as independent units") + \
        ", with replacement)"


def _components_lin(sample: Sample, chain, exact: bool) -> str:
    text = _design_words(sample)
    if chain:
        steps = ", ".join(cs.step.method for cs in chain)
        text += f" + weight calibration ({steps}; linearized as R survey)"
        if not exact:
            text += (" [approximate: a calibration step sits between two non-calibration steps "
                     "such as trim]")
    return text + "; targets treated as exact"


def _components_rep(sample: Sample, kind: str, n_rep: int, targets_se: bool) -> str:
    text = _design_words(sample)
    steps = [s.method for s in sample.history if s.calibration is not None]
    if steps:
        text += f" + weight calibration ({', '.join(steps)} redone on each replicate)"
    text += f"; {kind} with {n_rep} replicates"
    return text + ("; + target uncertainty (targets' se)" if targets_se else
                   "; targets treated as exact")


__all__ = ["estimate", "EstimateRequest", "COLUMNS", "VARIANCES"]
