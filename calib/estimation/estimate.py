"""``estimate``: weighted means, totals and proportions by domain, with standard errors.

Variance options: ``"linearization"`` (Taylor, residualized on every calibration step as R
survey does, with strata and clusters, with-replacement approximation), ``"bootstrap"`` and
``"jackknife"`` (recalibrated replicate weights), ``"none"``.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from calib.core.errors import DataError
from calib.core.sample import Sample
from calib.core.util import kish_ess_sums, z_value
from calib.estimation import domains as _domains
from calib.estimation import replicates as _rep
from calib.estimation.compiled.cell_replicates import fast_thetas
from calib.estimation.design import psu_design
from calib.estimation.linearization import calibration_chain, residualize

COLUMNS = ("outcome", "level", "by", "domain", "estimate", "se", "ci_low", "ci_high", "n",
           "ess", "deff")
VARIANCES = ("linearization", "bootstrap", "jackknife", "none")


def estimate(
    sample: Sample,
    outcome: str,
    *,
    by: str | None = None,
    stat: str = "mean",
    variance: str = "linearization",
    level: float = 0.95,
    replicates: int = 200,
    seed: int | None = None,
    targets_se: bool = False,
    lonely: str = "error",
    mse: bool = False,
    bootstrap_draw: str = "auto",
    progress: bool | None = False,
) -> pd.DataFrame:
    """Weighted estimate of ``outcome`` (by domain) with a standard error and interval.

    Parameters
    ----------
    sample : a Sample (weighted or not); its strata/cluster columns define the design.
    outcome : a column. Numeric or boolean: one row per domain (``level=""``); text or
        categorical: one row per level and domain (shares for ``mean``/``proportion``).
    by : a domain column; rows with a missing domain value belong to no domain (warned).
    stat : ``"mean"``, ``"total"`` or ``"proportion"`` (a 0/1 numeric outcome, or shares of
        a categorical one).
    variance : ``"linearization"``, ``"bootstrap"``, ``"jackknife"`` or ``"none"`` (se, ci and
        deff are then NaN: not computed).
    level : confidence level of the normal-theory (Wald) interval.
    replicates, seed : bootstrap replicates and seed.
    targets_se : include the targets' own sampling error (margins with ``se``); bootstrap
        only: each replicate perturbs the target totals (see :mod:`.replicates`).
    lonely : single-PSU strata: ``"error"``, ``"adjust"``, ``"certainty"``, ``"remove"``.
    mse : centre replicate variances at the full-sample estimate instead of the replicates'
        mean (R ``mse=TRUE``; the default follows R's ``mse=FALSE``).
    bootstrap_draw : ``"rows"`` draws every replicate's Rao-Wu factors row by row with numpy
        (the replicates equal those :func:`~calib.estimation.replicates.replicate_weights`
        exports for the same seed); ``"groups"`` draws each replicate's cell sums directly, with
        compiled exact multinomial draws (:mod:`~calib.estimation.compiled.grouped`): over groups of
        identical rows when rows collapse to at most a quarter as many groups (a categorical
        outcome), else over (stratum, cell) blocks and then rows within blocks; the same
        distribution as the row draw, reproducible from ``seed``, replicates split over threads
        (``CALIB_THREADS``; results do not depend on it). ``"auto"`` (default) is ``"groups"``
        from 100,000 rows on. ``attrs["bootstrap_draw"]`` says which ran.
    progress : a progress bar over the replicates on stderr (None: when stderr is a terminal;
        see :mod:`calib.core.progress`).

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
    """
    if variance not in VARIANCES:
        raise DataError(f"variance={variance!r}: choose one of {VARIANCES}")
    if not 0 < level < 1:
        raise DataError(f"level={level!r}: the confidence level must be in (0, 1), e.g. 0.95")
    if targets_se and variance != "bootstrap":
        raise DataError(
            f"targets_se=True with variance={variance!r}: target uncertainty is propagated by "
            "perturbing the targets per bootstrap replicate; use variance='bootstrap'"
        )
    est = _domains.build(sample.frame, outcome, by, stat)
    if est.missing:
        warnings.warn(
            f"outcome {outcome!r}: {est.missing} rows with a missing value are left out of its "
            "estimates (df.attrs['missing'])", UserWarning, stacklevel=2)
    if est.missing_by:
        warnings.warn(
            f"by={by!r}: {est.missing_by} rows with a missing domain value belong to no domain "
            "(df.attrs['missing_by'])", UserWarning, stacklevel=2)
    w = sample.weight_array
    theta = est.point(w)
    n = est.domain_sums(np.ones(w.size))
    sw = est.domain_sums(w)
    sw2 = est.domain_sums(w**2)
    empty = sw <= 0
    if empty.any():
        bad = est.labels[empty].iloc[0]
        raise DataError(
            f"outcome {outcome!r} level {bad['level']!r} in domain {bad['domain']!r} of "
            f"{by!r}: no weight (no observed rows); drop that domain")
    ess = kish_ess_sums(sw, sw2)
    components = "none"
    extra: dict = {}
    if variance == "none":
        var = np.full(theta.shape, np.nan)
    elif variance == "linearization":
        d = psu_design(sample, lonely=lonely)
        chain, exact = calibration_chain(sample)
        x = residualize(est.influence(w), chain) if chain else est.influence(w)
        var = d.variance(x)
        components = _components_lin(sample, chain, exact)
    else:
        method = "bootstrap" if variance == "bootstrap" else "jackknife"
        p = _rep.plan(sample, method, replicates, seed, lonely)
        chain, _ = calibration_chain(sample)
        if bootstrap_draw not in ("auto", "rows", "groups"):
            raise DataError(f"bootstrap_draw={bootstrap_draw!r}: use 'auto', 'rows' or 'groups'")
        grouped = bootstrap_draw == "groups" or (bootstrap_draw == "auto"
                                                 and sample.n >= _rep.GROUP_MIN_ROWS)
        from calib.core.progress import progress_bar

        with progress_bar(p.n_rep, f"{p.method} replicates", progress) as advance:
            fast = fast_thetas(sample, p, chain, est, targets_se, grouped=grouped,
                               advance=advance)
            thetas, draw = fast if fast is not None else (None, "rows")
            if thetas is None:
                thetas = np.empty((p.n_rep, theta.size))
                for a, b in _rep.chunks(sample.n, p.n_rep):
                    thetas[a:b] = est.point(
                        _rep.replicate_rows(sample, p, a, b, targets_se, chain))
                    advance(b - a)
        if not np.isfinite(thetas).all():
            raise DataError(
                f"outcome {outcome!r}: some {p.method} replicates have no weight in a domain "
                f"of {by!r}; use fewer/larger domains or variance='linearization'")
        centre = theta if mse else (thetas[p.rscales > 0].mean(axis=0))
        var = p.scale * (p.rscales[:, None] * (thetas - centre[None, :]) ** 2).sum(axis=0)
        components = _components_rep(sample, p.method, p.n_rep, targets_se)
        extra = {"replicates": p.n_rep, "replicate_type": p.method}
        if p.method == "bootstrap":
            extra["bootstrap_draw"] = draw
    se = np.sqrt(var)
    z = z_value(level)
    deff = var / _srs_variance(est, w, theta, n, sw) if variance != "none" else var
    out = est.labels.copy()
    out["estimate"] = theta
    out["se"] = se
    out["ci_low"] = theta - z * se
    out["ci_high"] = theta + z * se
    out["n"] = n.astype(np.int64)
    out["ess"] = ess
    out["deff"] = deff
    out = out[list(COLUMNS)]
    out.attrs.update(
        variance=variance, variance_components=components, level=level, stat=stat,
        missing=est.missing, missing_by=est.missing_by, **extra)
    return out


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
            text += " [approximate: a non-calibration step such as trim follows]"
    return text + "; targets treated as exact"


def _components_rep(sample: Sample, kind: str, n_rep: int, targets_se: bool) -> str:
    text = _design_words(sample)
    steps = [s.method for s in sample.history if s.calibration is not None]
    if steps:
        text += f" + weight calibration ({', '.join(steps)} redone on each replicate)"
    text += f"; {kind} with {n_rep} replicates"
    return text + ("; + target uncertainty (targets' se)" if targets_se else
                   "; targets treated as exact")
