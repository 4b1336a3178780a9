"""Synthetic populations with known truth, and biased samples ("persona sets") drawn from them.

A :class:`Population` is the CVAP poststratification frame (:func:`calib.data.datasets.poststrat_frame`:
50 states x race4 x sex x age6 x educ5, 12,000 cells, 228M citizens 18+) with a probability of
the outcome in every cell from a documented logistic model, so the population truth (overall
and by state) is known exactly. :func:`sample` draws rows from it with composition skew
(multipliers on the inclusion probability of some levels) and response shift (a log-odds shift
of the answers: the LLM answering unlike real people of the same cell).

The model (binary outcome ``y``, 1 = "yes", think Republican vote)::

    logit P(y = 1 | cell) = intercept + state[s] + age6[a] + sex[x] + race4[r] + educ5[e]

with the defaults of :data:`BINARY_COEFFICIENTS`; the state effect defaults to
``4 * (repvote_s - mean repvote)`` from :func:`calib.data.datasets.state_predictors` (the 2016
Republican two-party share), so states differ realistically. The categorical outcome
(levels :data:`CATEGORICAL_LEVELS`) is a multinomial logit with ``Democrat`` as reference:
``Independent`` gets intercept -0.4 and half the binary effects, ``Republican`` the binary
effects.

Examples
--------
>>> pop = population(seed=1)
>>> round(float(pop.truth_overall["estimate"].iloc[0]), 3)
0.475
>>> rows, truth = sample(pop, 500, skew={"age6": {"18-29": 3.0}}, seed=2)
>>> len(rows), sorted(rows.columns)
(500, ['age6', 'educ5', 'race4', 'region', 'sex', 'state', 'y'])
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from calib.core.errors import DataError
from calib.data.datasets import poststrat_frame, state_predictors

# persona election studies with known truth live in their own module; calib.simulate has
# always offered them too (docs/api.md)
from calib.studies.election_study import ElectionStudy, election_study, truth_frame

#: Default coefficients of the binary model (logit scale). ``state`` is computed (see module).
BINARY_COEFFICIENTS: dict[str, object] = {
    "intercept": -0.1,
    "age6": {"18-29": -0.5, "30-39": -0.25, "40-49": 0.0, "50-59": 0.15, "60-69": 0.25,
             "70+": 0.35},
    "sex": {"Female": -0.15, "Male": 0.15},
    "race4": {"White": 0.55, "Black": -1.8, "Hispanic": -0.6, "Other": -0.3},
    "educ5": {"No HS": 0.2, "HS": 0.35, "Some college": 0.15, "4-Year College": -0.25,
              "Post-grad": -0.6},
}  # fmt: skip

#: Levels of the categorical outcome (first = reference category of the multinomial logit).
CATEGORICAL_LEVELS: tuple[str, ...] = ("Democrat", "Independent", "Republican")

#: Cell variables of the synthetic population.
CELL_VARIABLES: tuple[str, ...] = ("state", "region", "race4", "sex", "age6", "educ5")


def _frame() -> pd.DataFrame:
    """The census frame the population is built on (one switch point for its source)."""
    return poststrat_frame()


def _state_effect(frame: pd.DataFrame, scale: float = 4.0) -> dict[str, float]:
    p = state_predictors()
    rv = p["repvote"].to_numpy()
    eff = scale * (rv - rv.mean())
    return dict(zip(p["state"].astype(str), eff.tolist(), strict=True))


def _linear_predictor(frame: pd.DataFrame, coef: Mapping[str, object]) -> np.ndarray:
    eta = np.full(len(frame), float(coef.get("intercept", 0.0)))  # type: ignore[arg-type]
    for var, effects in coef.items():
        if var == "intercept":
            continue
        if var not in frame.columns:
            raise DataError(f"coefficients name {var!r}, which is not a frame column "
                            f"({list(frame.columns)}); remove it or add the column")
        if not isinstance(effects, Mapping):
            raise DataError(f"coefficients[{var!r}] must map levels to log-odds effects")
        vals = frame[var].astype(str).map({str(k): float(v) for k, v in effects.items()})
        missing = sorted(set(frame[var].astype(str)[vals.isna()]))
        if missing:
            raise DataError(f"coefficients[{var!r}] lack levels {missing}; give an effect for "
                            "every level (0.0 for none)")
        eta += vals.to_numpy(dtype=float)
    return eta


@dataclass(frozen=True)
class Population:
    """A synthetic population: frame cells with known outcome probabilities.

    Attributes
    ----------
    cells : the frame (``state, region, race4, sex, age6, educ5, n``) plus the true
        probability per cell: ``p`` (binary) or ``p_<level>`` per categorical level.
    outcome : ``"binary"`` or ``"categorical"``.
    levels : outcome levels (``(0, 1)`` coded as ``("0", "1")`` for binary).
    coefficients : the coefficients used (per category for categorical).
    truth_overall, truth_state : true population shares (``level, estimate`` [, ``state``]).
    """

    cells: pd.DataFrame
    outcome: str
    levels: tuple[str, ...]
    coefficients: Mapping[str, object]
    truth_overall: pd.DataFrame = field(repr=False)
    truth_state: pd.DataFrame = field(repr=False)

    def prob(self) -> np.ndarray:
        """(cells, K) outcome probabilities (K = 2 for binary: P(0), P(1))."""
        if self.outcome == "binary":
            p = self.cells["p"].to_numpy()
            return np.column_stack([1 - p, p])
        return self.cells[[f"p_{lv}" for lv in self.levels]].to_numpy()


def _truth(cells: pd.DataFrame, prob: np.ndarray, levels: tuple[str, ...], binary: bool
           ) -> tuple[pd.DataFrame, pd.DataFrame]:
    n = cells["n"].to_numpy(dtype=float)
    keep = [1] if binary else list(range(len(levels)))
    overall = pd.DataFrame(
        {"level": [levels[k] for k in keep],
         "estimate": [float(n @ prob[:, k] / n.sum()) for k in keep]}
    )
    state = cells["state"].astype(str).to_numpy()
    rows: list[pd.DataFrame] = []
    for k in keep:
        num = pd.Series(n * prob[:, k]).groupby(state).sum()
        den = pd.Series(n).groupby(state).sum()
        rows.append(pd.DataFrame({"state": num.index, "level": levels[k],
                                  "estimate": (num / den).to_numpy()}))
    return overall, pd.concat(rows, ignore_index=True)


def population(
    frame: pd.DataFrame | None = None,
    outcome: str = "binary",
    coefficients: Mapping[str, object] | None = None,
    seed: int | None = 0,
) -> Population:
    """Build a synthetic population with known outcome probabilities per cell.

    Parameters
    ----------
    frame : cells with ``n`` and the variables the coefficients name; default the CVAP frame.
    outcome : ``"binary"`` (logistic model) or ``"categorical"`` (multinomial logit over
        :data:`CATEGORICAL_LEVELS`).
    coefficients : binary: a mapping like :data:`BINARY_COEFFICIENTS` (``intercept`` and
        ``{variable: {level: effect}}``); categorical: ``{category: that mapping}`` for every
        non-reference category. Default: :data:`BINARY_COEFFICIENTS` plus the state effect.
    seed : unused by the default model (deterministic); kept so later, random truths share the
        signature.

    Returns
    -------
    Population

    Examples
    --------
    >>> pop = population(outcome="categorical")
    >>> pop.truth_overall["level"].tolist()
    ['Democrat', 'Independent', 'Republican']
    >>> round(float(pop.truth_overall["estimate"].sum()), 12)
    1.0
    """
    cells = (_frame() if frame is None else frame).copy()
    if "n" not in cells.columns:
        raise DataError("frame needs a count column 'n'; add the cell population counts")
    if (cells["n"] < 0).any() or cells["n"].isna().any():
        raise DataError("frame column 'n' has negative or missing counts; fix the frame")
    if outcome not in ("binary", "categorical"):
        raise DataError(f"outcome={outcome!r}: use 'binary' or 'categorical'")
    if coefficients is None:
        base = dict(BINARY_COEFFICIENTS)
        if "state" in cells.columns:
            base["state"] = _state_effect(cells)
        if outcome == "binary":
            coefficients = base
        else:
            half = {k: ({lv: 0.5 * e for lv, e in v.items()} if isinstance(v, Mapping) else -0.4)
                    for k, v in base.items()}
            coefficients = {"Independent": half, "Republican": base}
    if outcome == "binary":
        p = 1.0 / (1.0 + np.exp(-_linear_predictor(cells, coefficients)))
        cells["p"] = p
        levels: tuple[str, ...] = ("0", "1")
        prob = np.column_stack([1 - p, p])
    else:
        levels = CATEGORICAL_LEVELS
        extra = [c for c in coefficients if c not in levels[1:]]
        if extra:
            raise DataError(f"categorical coefficients name categories {extra}; use "
                            f"{list(levels[1:])} (Democrat is the reference)")
        eta = np.column_stack(
            [np.zeros(len(cells))]
            + [_linear_predictor(cells, coefficients.get(lv, {})) for lv in levels[1:]]  # type: ignore[arg-type]
        )
        eta -= eta.max(axis=1, keepdims=True)
        prob = np.exp(eta)
        prob /= prob.sum(axis=1, keepdims=True)
        for k, lv in enumerate(levels):
            cells[f"p_{lv}"] = prob[:, k]
    overall, by_state = _truth(cells, prob, levels, outcome == "binary")
    return Population(cells, outcome, levels, coefficients, overall, by_state)


def _skew_factor(cells: pd.DataFrame, skew: Mapping[str, Mapping[str, float]] | None) -> np.ndarray:
    f = np.ones(len(cells))
    for var, mult in (skew or {}).items():
        if var not in cells.columns:
            raise DataError(f"skew names {var!r}, not a population variable "
                            f"({[c for c in cells.columns if not c.startswith('p')]})")
        col = cells[var].astype(str)
        bad = sorted(set(map(str, mult)) - set(col.unique()))
        if bad:
            raise DataError(f"skew[{var!r}] names levels {bad} absent from the population; "
                            f"use levels among {sorted(col.unique())}")
        m = col.map({str(k): float(v) for k, v in mult.items()}).fillna(1.0).to_numpy(float)
        if (m < 0).any():
            raise DataError(f"skew[{var!r}]: multipliers must be >= 0")
        f *= m
    return f


def sample(
    population: Population,
    n: int,
    *,
    skew: Mapping[str, Mapping[str, float]] | None = None,
    per_state: int | None = None,
    response_shift: float = 0.0,
    seed: int | None = 0,
) -> tuple[pd.DataFrame, Population]:
    """Draw a biased sample of rows (personas) from a synthetic population.

    Parameters
    ----------
    population : from :func:`population`.
    n : number of rows (ignored when ``per_state`` is given).
    skew : composition skew, ``{variable: {level: multiplier}}`` on the inclusion probability
        (a cell's probability is proportional to its count times the product of multipliers).
    per_state : draw this many rows in every state with ``n > 0`` (equal counts per state, as
        in the seed study) instead of ``n`` overall.
    response_shift : log-odds shift of the answers (binary: added to logit P(y=1);
        categorical: added to the last category's logit). 0 = answers as the population.
    seed : random seed.

    Returns
    -------
    (rows, population): rows has the cell variables and the outcome ``y`` (0/1 int for binary,
    the category text for categorical); the population carries the truth
    (``truth_overall``, ``truth_state``; without the response shift: the shift is the bias).

    Examples
    --------
    >>> pop = population()
    >>> rows, _ = sample(pop, 0, per_state=4, seed=3)
    >>> len(rows), int(rows.groupby("state", observed=True).size().max())
    (200, 4)
    """
    rng = np.random.default_rng(seed)
    cells = population.cells
    w = cells["n"].to_numpy(dtype=float) * _skew_factor(cells, skew)
    if per_state is None:
        if n < 0:
            raise DataError(f"n={n}: the sample size must be >= 0")
        if w.sum() <= 0:
            raise DataError("skew multipliers leave no cell with positive probability")
        counts = rng.multinomial(int(n), w / w.sum())
    else:
        if per_state < 0:
            raise DataError(f"per_state={per_state}: must be >= 0")
        counts = np.zeros(len(cells), dtype=np.int64)
        state = cells["state"].astype(str).to_numpy()
        for s in pd.unique(state):
            idx = np.flatnonzero(state == s)
            ws = w[idx]
            if ws.sum() <= 0:
                continue
            counts[idx] = rng.multinomial(int(per_state), ws / ws.sum())
    cell = np.repeat(np.arange(len(cells)), counts)
    rng.shuffle(cell)
    cols = [c for c in CELL_VARIABLES if c in cells.columns]
    rows = cells[cols].iloc[cell].reset_index(drop=True)
    prob = population.prob()[cell]
    if population.outcome == "binary":
        p1 = prob[:, 1]
        if response_shift:
            p1 = 1.0 / (1.0 + np.exp(-(np.log(p1) - np.log1p(-p1) + response_shift)))
        rows["y"] = (rng.random(len(cell)) < p1).astype(np.int64)
    else:
        if response_shift and len(cell):
            logp = np.log(prob)
            logp[:, -1] += response_shift
            prob = np.exp(logp - logp.max(axis=1, keepdims=True))
            prob /= prob.sum(axis=1, keepdims=True)
        u = rng.random((len(cell), 1))
        k = (prob.cumsum(axis=1) < u).sum(axis=1).clip(max=len(population.levels) - 1)
        # pandas accepts any list-like categories; its stubs want an Index
        rows["y"] = pd.Categorical.from_codes(k, categories=list(population.levels))  # pyright: ignore[reportCallIssue, reportArgumentType]
    return rows, population


__all__ = [
    "Population",
    "population",
    "sample",
    "BINARY_COEFFICIENTS",
    "CATEGORICAL_LEVELS",
    "ElectionStudy",
    "election_study",
    "truth_frame",
]
