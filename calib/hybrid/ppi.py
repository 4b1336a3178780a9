"""PPI++ (prediction-powered inference with power tuning) for means and proportions.

The **persona set** is the large arm: the LLM's answers ``f_j`` for personas weighted to
census targets (weights ``w_j``, e.g. a raked :class:`calib.Sample`). The **human sample** is
the rectifier: real answers ``Y_i`` with design weights ``v_i`` paired with a prediction
``Yhat_i`` for the same person - either the LLM's answer for that human's own attributes
(``prediction="llm"``) or the weighted persona mean of the human's cell
(``prediction="cell"``). The estimator (Angelopoulos, Duchi & Zrnic 2023, arXiv 2311.01453)::

    theta(lam) = lam * mean_w(f) + mean_v(Y - lam * Yhat)

with Hajek (weighted) means. Its variance is the sum of the two independent arms'
linearized variances::

    V(lam) = lam^2 * sum_j w'_j^2 (f_j - mean_w f)^2 / N^2
           + sum_i v'_i^2 (r_i - mean_v r)^2 / n^2,        r_i = Y_i - lam * Yhat_i

(``w'``, ``v'`` weights scaled to mean 1; no ``n/(n-1)`` factor, the ppi_py convention,
an O(1/n) difference from R's ``svymean``). ``lam`` is tuned as in ppi_py:
``lam = C / (s2 * (k_P + k_H))`` with ``C`` the linearized covariance of ``Y`` and ``Yhat``
over the human arm, ``s2`` the pooled variance of the weighted prediction scores of both arms
and ``k = sum w'^2 / n^2`` (1/n without weights), clipped to [0, 1]; without weights this is
exactly ``ppi_py.ppi_mean_ci(..., lam=None)``. ``lam=0`` gives the human-only estimate,
``lam=1`` plain PPI.

**Small human arms** (fewer than ``small_n`` humans, default :data:`SMALL_N` = 50; ``small_n=0``
keeps the ppi_py convention at every n): the human arm's variance takes the ``n/(n-1)``
factor (without a design; a design's variance already has R's ``n_h/(n_h-1)``), the interval
uses Student t quantiles with ``n_human - 1`` degrees of freedom, ``lam=None`` means ``lam = 1``
(plain PPI: a ``lam`` tuned on the same few humans makes the interval optimistic), and for
0/1 answers the per-unit rectifier variance is floored at ``p(1-p)`` with the Agresti-Coull
rate ``p = 2/(n+4)`` (two discordant and two concordant pseudo-pairs), so that humans who all
agree with the LLM cannot give a zero-width interval. Fewer than 2 humans are refused.

Examples
--------
>>> import numpy as np, pandas as pd
>>> rng = np.random.default_rng(0)
>>> y = rng.random(200) < 0.4
>>> human = pd.DataFrame({"y": y.astype(int), "llm": (y | (rng.random(200) < 0.2)).astype(int)})
>>> personas = pd.DataFrame({"llm": (rng.random(5000) < 0.52).astype(int)})
>>> est = ppi_mean(personas, human, "llm", "y")
>>> est[["estimate", "n_human"]].round(3).values.tolist()
[[0.354, 200.0]]
>>> bool(est["n_effective_human"].iloc[0] > 200)
True
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from math import inf
from typing import Any, Literal, TypedDict, Unpack

import numpy as np
import pandas as pd
from scipy.stats import t as student_t

from calib.core.cells import format_level
from calib.core.errors import DataError
from calib.core.literals import Prediction
from calib.core.sample import check_weights
from calib.core.util import kish_ess, z_value

#: Label of the all-population row.
TOTAL = "Total"

#: Below this many humans in an arm, the small-n corrections apply (see the module docstring):
#: Wald intervals of per-domain PPI++ covered 94% at 21-40 humans and less below (issue 15).
SMALL_N = 50

#: Output columns (those of ``calib estimate`` plus the hybrid ones).
COLUMNS: tuple[str, ...] = (
    "outcome", "level", "by", "domain", "estimate", "se", "ci_low", "ci_high", "n", "ess", "deff",
    "n_human", "n_effective_human", "lambda",
)  # fmt: skip


class ArmOptions(TypedDict, total=False):
    """How the two arms are read: the keyword options shared by the hybrid estimators
    (:func:`ppi_mean`, :func:`ppi_proportion`, :func:`calib.hybrid.ppi_stratified`,
    :func:`calib.hybrid.plan_human_sample`), passed on to :func:`build_arms`.

    Keys
    ----
    persona_weight, human_weight : weight column, array or None (ones) for DataFrames.
    prediction : ``"llm"`` (default; the LLM's answer for each human) or ``"cell"`` (the
        weighted persona mean of the human's cell).
    cells : cell variables for ``prediction="cell"``.
    """

    persona_weight: Any
    human_weight: Any
    prediction: Literal["llm", "cell"]
    cells: Sequence[str] | None


@dataclass(frozen=True)
class Arms:
    """The two arms of a PPI estimate as arrays (rows with a missing value already refused)."""

    f: np.ndarray  # persona answers (large arm)
    w: np.ndarray  # persona weights
    y: np.ndarray  # human answers
    yhat: np.ndarray  # predictions for the humans
    v: np.ndarray  # human design weights
    pdesign: Any = None  # PSUDesign of the persona rows (a Sample with strata/cluster) or None
    hdesign: Any = None  # PSUDesign of the human rows or None
    pidx: np.ndarray | None = None  # positions of these rows among the design's rows
    hidx: np.ndarray | None = None


@dataclass(frozen=True)
class PPIFit:
    """One PPI++ estimate: point, variance pieces and the tuned ``lam``."""

    estimate: float
    var: float
    lam: float
    var_human_only: float  # linearized variance of the weighted human mean of Y
    s2_y: float  # per-unit variance of Y in the human arm (SRS scale)
    n_persona: int
    n_human: int
    ess_persona: float
    df: float = inf  # degrees of freedom of the interval's quantile (inf: normal)


def frame_weights(obj: Any, weight: Any, what: str) -> tuple[pd.DataFrame, np.ndarray]:
    """Rows and weights of a Sample or a DataFrame (+ column name / array / None)."""
    if hasattr(obj, "frame") and hasattr(obj, "weight_array"):
        if weight is not None:
            raise DataError(f"{what}: a calib.Sample carries its weights; do not also pass a weight")
        return obj.frame, np.asarray(obj.weight_array, dtype=float)
    if not isinstance(obj, pd.DataFrame):
        raise DataError(f"{what} must be a calib.Sample or a pandas DataFrame, got "
                        f"{type(obj).__name__}")
    if len(obj) == 0:
        raise DataError(f"{what} has no rows")
    if weight is None:
        return obj, np.ones(len(obj))
    if isinstance(weight, str):
        if weight not in obj.columns:
            raise DataError(f"{what}: weight column {weight!r} is not in the data "
                            f"({list(obj.columns)}); pass the right name or weight=None")
        w = pd.to_numeric(obj[weight], errors="coerce").to_numpy(dtype=float)
    else:
        w = np.asarray(weight, dtype=float)
        if w.shape != (len(obj),):
            raise DataError(f"{what}: weight has {w.size} values for {len(obj)} rows")
    return obj, check_weights(w, what, obj.index)


def numeric_column(frame: pd.DataFrame, col: str, what: str) -> np.ndarray:
    """Column ``col`` of ``frame`` as floats; a missing or non-numeric value is refused.

    >>> numeric_column(pd.DataFrame({"y": ["1", 0]}), "y", "human").tolist()
    [1.0, 0.0]
    """
    if col not in frame.columns:
        raise DataError(f"{what}: column {col!r} is not in the data ({list(frame.columns)}); "
                        "name the answer column")
    s = frame[col]
    x = pd.to_numeric(s, errors="coerce").to_numpy(dtype=float)
    bad = ~np.isfinite(x)
    if bad.any():
        raise DataError(f"{what}: column {col!r} has {int(bad.sum())} missing or non-numeric "
                        f"values (first rows {(np.flatnonzero(bad)[:5] + 1).tolist()}, "
                        "numbered from 1, e.g. "
                        f"{s[bad].iloc[0]!r}); drop those rows or recode the answer to numbers")
    return x


def cell_predictions(
    personas: pd.DataFrame, w: np.ndarray, f: np.ndarray, human: pd.DataFrame,
    cells: Sequence[str],
) -> tuple[np.ndarray, np.ndarray]:
    """Weighted persona mean of ``f`` in each persona's and each human's cell.

    Raises :class:`DataError` naming the human cells no persona covers.

    >>> p = pd.DataFrame({"g": ["a", "a", "b"]})
    >>> h = pd.DataFrame({"g": ["b", "a"]})
    >>> cell_predictions(p, np.ones(3), np.array([1.0, 0.0, 1.0]), h, ["g"])[1].tolist()
    [1.0, 0.5]
    """
    cells = list(cells)
    for c in cells:
        for fr, what in ((personas, "personas"), (human, "human")):
            if c not in fr.columns:
                raise DataError(f"cell variable {c!r} is not a column of the {what}; pass cells= "
                                "variables both data sets share")
    pk = personas[cells].astype(str).agg("|".join, axis=1) if cells else pd.Series("", personas.index)
    hk = human[cells].astype(str).agg("|".join, axis=1) if cells else pd.Series("", human.index)
    num = pd.Series(w * f).groupby(pk.to_numpy()).sum()
    den = pd.Series(w).groupby(pk.to_numpy()).sum()
    mean = num / den
    missing = sorted(set(hk) - set(mean.index[den.to_numpy() > 0]))
    if missing:
        raise DataError(f"prediction='cell': {len(missing)} human cells of {cells} have no "
                        f"persona with positive weight (e.g. {missing[:3]}); use fewer cell "
                        "variables (cells=[...]) or prediction='llm'")
    return mean.reindex(pk.to_numpy()).to_numpy(), mean.reindex(hk.to_numpy()).to_numpy()


def scaled_weights(w: np.ndarray) -> np.ndarray:
    """Weights scaled to sum to their count (ppi_py's scale).

    >>> scaled_weights(np.array([1.0, 3.0])).tolist()
    [0.5, 1.5]
    """
    return w / w.sum() * len(w)


def tune_lambda(arms: Arms) -> float:
    """Power-tuning ``lam`` (ppi_py's plug-in minimiser, with design weights), in [0, 1]."""
    n, big_n = len(arms.y), len(arms.f)
    v, w = scaled_weights(arms.v), scaled_weights(arms.w)
    theta1 = np.mean(w * arms.f) + np.mean(v * (arms.y - arms.yhat))
    g = v * (arms.y - np.mean(v * arms.y))
    gh = v * (arms.yhat - np.mean(v * arms.yhat))
    cov = np.sum((g - g.mean()) * (gh - gh.mean())) / n
    pooled = np.concatenate([v * (arms.yhat - theta1), w * (arms.f - theta1)])
    s2 = np.var(pooled, ddof=1)
    k_h, k_p = np.sum(v**2) / n**2, np.sum(w**2) / big_n**2
    if s2 <= 0:
        return 0.0
    lam = (cov / n) / (s2 * (k_h + k_p))
    return float(np.clip(lam, 0.0, 1.0))


def hajek_var(x: np.ndarray, w: np.ndarray) -> float:
    """Linearized variance of the Hajek mean of ``x`` (ppi_py scale: no n/(n-1) factor)."""
    ws = scaled_weights(w)
    m = np.sum(ws * x) / len(x)
    return float(np.sum((ws * (x - m)) ** 2) / len(x) ** 2)


def arm_variance(x: np.ndarray, w: np.ndarray, design: Any, idx: np.ndarray | None) -> float:
    """Variance of an arm's Hajek mean: :func:`hajek_var` without a design; with one (a Sample
    with strata/clusters), the with-replacement design variance of the linearized values
    ``w (x - m) / sum(w)`` over the design's PSUs within strata (R ``svymean``; a domain's
    values are zero outside it, as ``svyby``)."""
    if design is None:
        return hajek_var(x, w)
    m = np.sum(w * x) / w.sum()
    z = np.zeros(design.psu.size)
    z[slice(None) if idx is None else idx] = w * (x - m) / w.sum()
    return float(design.variance(z[:, None])[0])


def _design_of(obj: Any) -> Any:
    """The PSU design of a :class:`calib.Sample` with strata or clusters, else None."""
    if getattr(obj, "strata", None) is None and getattr(obj, "cluster", None) is None:
        return None
    from calib.estimation.design import psu_design  # deferred: calib.estimation loads numba

    return psu_design(obj)


def binary(x: np.ndarray) -> bool:
    """True when every value is 0 or 1.

    >>> binary(np.array([0.0, 1.0, 1.0])), binary(np.array([0.5]))
    (True, False)
    """
    return bool(np.all((x == 0) | (x == 1)))


def rectifier_floor(n: int) -> float:
    """Smallest per-unit variance of a 0/1 rectifier from ``n`` humans: ``p (1 - p)`` with the
    Agresti-Coull rate ``p = 2 / (n + 4)`` of discordant pairs when none was seen.

    >>> round(rectifier_floor(6), 4)
    0.16
    """
    p = 2.0 / (n + 4.0)
    return p * (1.0 - p)


def fit_arms(arms: Arms, lam: float | None = None, *, small_n: int = SMALL_N) -> PPIFit:
    """PPI++ estimate from two arms; ``lam=None`` tunes it (see :func:`tune_lambda`).

    With fewer than ``small_n`` humans the small-n corrections of the module docstring apply
    (``n/(n-1)``, t quantile with ``n - 1`` df, ``lam=None`` -> 1, floor on the 0/1 rectifier
    variance); ``small_n=0`` keeps the ppi_py convention.

    >>> a = Arms(np.array([0.0, 1.0, 1.0, 0.0]), np.ones(4), np.array([1.0, 0.0]),
    ...          np.array([1.0, 0.0]), np.ones(2))
    >>> round(fit_arms(a, lam=1.0).estimate, 6)
    0.5
    """
    n, big_n = len(arms.y), len(arms.f)
    if n < 2:
        raise DataError(f"the human arm has {n} respondent(s); PPI needs at least 2 (a direct "
                        "estimate from one human has no variance estimate). Merge the domain "
                        "into a coarser one or use the small-area estimator "
                        "(calib.hybrid.small_area), which gives such domains a synthetic estimate")
    if big_n < 2:
        raise DataError(f"the persona arm has {big_n} persona(s); PPI needs at least 2")
    small = n < small_n
    if lam is None:
        lam = 1.0 if small else tune_lambda(arms)
    lam = float(lam)
    mp = np.sum(arms.w * arms.f) / arms.w.sum()
    r = arms.y - lam * arms.yhat
    est = lam * mp + np.sum(arms.v * r) / arms.v.sum()
    v_h = arm_variance(r, arms.v, arms.hdesign, arms.hidx)
    v_y = arm_variance(arms.y, arms.v, arms.hdesign, arms.hidx)
    df = inf
    if small:
        if arms.hdesign is None:  # a design's variance already has n_h / (n_h - 1)
            v_h, v_y = v_h * n / (n - 1), v_y * n / (n - 1)
        if binary(arms.y) and binary(arms.yhat):
            k_h = float(np.sum(arms.v**2) / arms.v.sum() ** 2)  # 1/n with equal weights
            v_h = max(v_h, rectifier_floor(n) * k_h)
            v_y = max(v_y, rectifier_floor(n) * k_h)
        df = float(n - 1)
    var = lam**2 * arm_variance(arms.f, arms.w, arms.pdesign, arms.pidx) + v_h
    ess_p = kish_ess(arms.w)
    return PPIFit(float(est), float(var), lam, v_y, float(np.var(arms.y)), big_n, n, float(ess_p),
                  df)


def fit_row(fit: PPIFit, outcome: str, level: Any, by: Any, domain: str, conf: float) -> dict:
    """One output row (the columns of :data:`COLUMNS`)."""
    se = float(np.sqrt(max(fit.var, 0.0)))
    z = z_value(conf) if not np.isfinite(fit.df) else float(student_t.ppf(0.5 + conf / 2, fit.df))
    ess = fit.s2_y / fit.var if fit.var > 0 else float(fit.n_human)
    return {
        "outcome": outcome, "level": level, "by": by, "domain": domain,
        "estimate": fit.estimate, "se": se, "ci_low": fit.estimate - z * se,
        "ci_high": fit.estimate + z * se, "n": fit.n_persona + fit.n_human,
        "ess": float(ess), "deff": float(fit.n_human / ess) if ess > 0 else 1.0,
        "n_human": float(fit.n_human),
        "n_effective_human": float(fit.n_human * fit.var_human_only / fit.var)
        if fit.var > 0 else float(fit.n_human),
        "lambda": fit.lam,
    }  # fmt: skip


def build_arms(
    personas: Any, human: Any, outcome: str, human_outcome: str, *,
    persona_weight: Any = None, human_weight: Any = None, prediction: Prediction = "llm",
    cells: Sequence[str] | None = None, transform: Any = None,
) -> tuple[Arms, pd.DataFrame, pd.DataFrame]:
    """Validate inputs and build the :class:`Arms` (plus the two row frames)."""
    pframe, w = frame_weights(personas, persona_weight, "personas")
    hframe, v = frame_weights(human, human_weight, "human")
    tf = transform or (lambda fr, col, what: numeric_column(fr, col, what))
    f = tf(pframe, outcome, "personas")
    y = tf(hframe, human_outcome, "human")
    if prediction == "llm":
        if outcome not in hframe.columns:
            raise DataError(f"prediction='llm' needs the LLM's answer for each human in column "
                            f"{outcome!r} of the human data; add it or use prediction='cell'")
        yhat = tf(hframe, outcome, "human (LLM answer)")
    elif prediction == "cell":
        if cells is None:
            raise DataError("prediction='cell' needs cells=[variables] defining the persona cells")
        _, yhat = cell_predictions(pframe, w, f, hframe, cells)
    else:
        raise DataError(f"prediction={prediction!r}: use 'llm' (the LLM answer for each human) "
                        "or 'cell' (the weighted persona mean of the human's cell)")
    return Arms(f, w, y, yhat, v, _design_of(personas), _design_of(human)), pframe, hframe


def shared_domains(pframe: pd.DataFrame, hframe: pd.DataFrame, by: str) -> list[str]:
    """The domains of ``by`` present in the human rows (category order, else sorted).

    >>> shared_domains(pd.DataFrame({"s": ["a"]}), pd.DataFrame({"s": ["b", "a"]}), "s")
    ['a', 'b']
    """
    for fr, what in ((pframe, "personas"), (hframe, "human")):
        if by not in fr.columns:
            raise DataError(f"by={by!r} is not a column of the {what}; pass a shared column")
    col = hframe[by]
    if isinstance(col.dtype, pd.CategoricalDtype):
        levels = [format_level(c) for c in col.cat.categories]
        present = set(col.astype(str))
        return [lv for lv in levels if lv in present]
    return sorted(set(col.map(format_level).astype(str)))


def subset_arms(arms: Arms, pm: np.ndarray, hm: np.ndarray) -> Arms:
    """The arms restricted to a domain (rows ``pm`` / ``hm``); designs keep all their rows."""
    def idx(design: Any, cur: np.ndarray | None, mask: np.ndarray) -> np.ndarray | None:
        if design is None:
            return None
        return (np.arange(mask.size) if cur is None else cur)[mask]

    return Arms(arms.f[pm], arms.w[pm], arms.y[hm], arms.yhat[hm], arms.v[hm], arms.pdesign,
                arms.hdesign, idx(arms.pdesign, arms.pidx, pm), idx(arms.hdesign, arms.hidx, hm))


def ppi_mean(
    personas: Any,
    human: Any,
    outcome: str,
    human_outcome: str,
    *,
    by: str | None = None,
    lam: float | None = None,
    level: float = 0.95,
    small_n: int = SMALL_N,
    **arm_options: Unpack[ArmOptions],
) -> pd.DataFrame:
    """PPI++ estimate of the population mean of a numeric answer (0/1 gives a proportion).

    Parameters
    ----------
    personas : :class:`calib.Sample` (its current weights are used) or DataFrame of personas
        with the LLM answer column ``outcome``.
    human : DataFrame (or Sample) of human respondents with the real answer ``human_outcome``
        and, for ``prediction="llm"``, the LLM's answer for that respondent in ``outcome``.
        A :class:`calib.Sample` with ``strata=`` / ``cluster=`` (for either arm; persona sets
        are clustered by generating model or prompt batch) brings its design into that arm's
        variance: with-replacement linearization over PSUs within strata, as R ``svymean``
        (domains as ``svyby``). Without a design the arm's variance is ppi_py's.
    by : domain column: one PPI per domain (personas and humans of that domain) plus the
        ``Total`` row (for a stratified total use :func:`calib.hybrid.ppi_stratified`).
    lam : fixed power-tuning parameter; None tunes it (per domain; 1 below ``small_n`` humans).
    level : confidence level of the interval (normal; Student t below ``small_n`` humans).
    small_n : below this many humans in a domain the small-n corrections apply (module
        docstring; default :data:`SMALL_N`); 0 keeps the ppi_py convention at every n.
    **arm_options : :class:`ArmOptions` -- ``persona_weight``, ``human_weight`` (weight
        column, array or None (ones) for DataFrames), ``prediction`` (``"llm"`` or ``"cell"``:
        the weighted persona mean of the human's ``cells``) and ``cells``.

    Returns
    -------
    DataFrame with :data:`COLUMNS`: ``n`` = persona + human rows, ``ess`` = the number of
    simple-random humans with the same variance (``s2_Y / V``), ``deff = n_human / ess``,
    ``n_effective_human`` = humans *under the same design* a human-only weighted mean would
    need (``n_human * V_human_only / V``), ``lambda`` the tuned weight.

    Examples
    --------
    >>> h = pd.DataFrame({"y": [1, 0, 1, 0], "llm": [1, 0, 1, 1]})
    >>> p = pd.DataFrame({"llm": [1, 1, 0, 1, 0, 1]})
    >>> float(ppi_mean(p, h, "llm", "y", lam=0.0)["estimate"].iloc[0])
    0.5
    """
    check_level(level)
    arms, pframe, hframe = build_arms(personas, human, outcome, human_outcome, **arm_options)
    return _table(arms, pframe, hframe, outcome, pd.NA, by, lam, level, small_n)


def check_level(level: float) -> None:
    """Refuse a confidence level outside (0, 1).

    >>> check_level(0.95)
    """
    if not 0 < level < 1:
        raise DataError(f"level={level!r}: the confidence level must be in (0, 1), e.g. 0.95")


def _table(arms: Arms, pframe: pd.DataFrame, hframe: pd.DataFrame, outcome: str, lv: Any,
           by: str | None, lam: float | None, level: float, small_n: int) -> pd.DataFrame:
    rows = []
    if by is not None:
        pcol = pframe[by].map(format_level).astype(str).to_numpy()
        hcol = hframe[by].map(format_level).astype(str).to_numpy()
        for d in shared_domains(pframe, hframe, by):
            pm, hm = pcol == d, hcol == d
            if pm.sum() < 2 or hm.sum() < 2:
                raise DataError(f"by={by!r}, domain {d!r}: {int(pm.sum())} personas and "
                                f"{int(hm.sum())} humans; PPI needs at least 2 of each. Use a "
                                "coarser by= (e.g. region), collect more respondents there, or "
                                "use calib.hybrid.small_area (a row for every domain)")
            fit = fit_arms(subset_arms(arms, pm, hm), lam, small_n=small_n)
            rows.append(fit_row(fit, outcome, lv, by, d, level))
    rows.append(fit_row(fit_arms(arms, lam, small_n=small_n), outcome, lv, pd.NA, TOTAL, level))
    return pd.DataFrame(rows, columns=list(COLUMNS))


def ppi_proportion(
    personas: Any,
    human: Any,
    outcome: str,
    human_outcome: str,
    *,
    levels: Sequence[str] | None = None,
    by: str | None = None,
    lam: float | None = None,
    level: float = 0.95,
    small_n: int = SMALL_N,
    **arm_options: Unpack[ArmOptions],
) -> pd.DataFrame:
    """PPI++ estimates of the share of each level of a categorical answer.

    One PPI per level on the indicators ``1[answer == level]`` (``lam`` tuned per level),
    rows in the order of ``levels`` (default: the categories of the human answer, else sorted).
    An LLM answer outside the levels is an error.

    Examples
    --------
    >>> h = pd.DataFrame({"y": ["a", "b", "a", "b"], "llm": ["a", "a", "a", "b"]})
    >>> p = pd.DataFrame({"llm": ["a", "b", "a", "a", "b", "a"]})
    >>> t = ppi_proportion(p, h, "llm", "y", lam=0.0)
    >>> t[["level", "estimate"]].values.tolist()
    [['a', 0.5], ['b', 0.5]]
    """
    check_level(level)
    pframe, _ = frame_weights(personas, arm_options.get("persona_weight"), "personas")
    hframe, _ = frame_weights(human, arm_options.get("human_weight"), "human")
    if human_outcome not in hframe.columns:
        raise DataError(f"human: column {human_outcome!r} is not in the data; name the answer")
    if levels is None:
        col = hframe[human_outcome]
        if isinstance(col.dtype, pd.CategoricalDtype):
            levels = [format_level(c) for c in col.cat.categories]
        else:
            levels = sorted(set(col.dropna().map(format_level)))
    levels = [format_level(x) for x in levels]

    def check(fr: pd.DataFrame, col: str, what: str) -> None:
        if col not in fr.columns:
            raise DataError(f"{what}: column {col!r} is not in the data ({list(fr.columns)})")
        s = fr[col]
        bad = s.isna() | ~s.map(format_level).isin(levels)
        if bad.any():
            raise DataError(f"{what}: column {col!r} has {int(bad.sum())} values outside the "
                            f"levels {levels} (e.g. {s[bad].iloc[0]!r}); recode them or pass "
                            "levels=[...]")

    out = []
    for lv in levels:
        def tf(fr, col, what, lv=lv):
            check(fr, col, what)
            return (fr[col].map(format_level) == lv).to_numpy(dtype=float)

        arms, pf, hf = build_arms(personas, human, outcome, human_outcome, transform=tf,
                                  **arm_options)
        out.append(_table(arms, pf, hf, outcome, lv, by, lam, level, small_n))
    return pd.concat(out, ignore_index=True)


def ppi(personas: Any, human: Any, outcome: str, human_outcome: str, **options: Any
        ) -> pd.DataFrame:
    """:func:`ppi_mean` for numeric human answers, :func:`ppi_proportion` otherwise.

    >>> h = pd.DataFrame({"y": [1, 0, 1, 0], "llm": [1, 0, 1, 1]})
    >>> ppi(pd.DataFrame({"llm": [1, 0, 1]}), h, "llm", "y", lam=0.0)["level"].isna().all()
    np.True_
    """
    hframe = human.frame if hasattr(human, "weight_array") else human
    if human_outcome in getattr(hframe, "columns", []):
        col = hframe[human_outcome]
        if pd.api.types.is_numeric_dtype(col) and not isinstance(col.dtype, pd.CategoricalDtype):
            options.pop("levels", None)
            return ppi_mean(personas, human, outcome, human_outcome, **options)
    return ppi_proportion(personas, human, outcome, human_outcome, **options)


__all__ = ["ArmOptions", "ppi", "ppi_mean", "ppi_proportion", "cell_predictions", "fit_arms", "tune_lambda",
           "arm_variance", "rectifier_floor", "Arms", "PPIFit", "COLUMNS", "TOTAL", "SMALL_N"]
