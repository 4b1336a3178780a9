"""Poststratification of an MRP fit: posterior draws of domain and national means.

For every posterior draw, the model's probability is predicted in every frame cell and averaged
with the frame counts as weights (``sum_c n_c p_c / sum_c n_c``) within each domain (``by``)
and nationally. A frame level the sample never showed (a state with no respondents) gets the
**prior-predictive** group effect: a fresh draw from ``Normal(0, sd_g)`` per posterior draw
(varying intercepts allow it; with ZeroSumNormal the fitted levels sum to zero and a new level
is exchangeable with them), plus whatever its domain predictors say. A fixed effect has no
such prior, so an unseen fixed-effect level is an error.

Examples
--------
>>> import numpy as np, pandas as pd
>>> from calib.mrp import Gate, Sampler, fit
>>> rng = np.random.default_rng(0)
>>> LOOSE = {"max_rhat": 1.05, "min_ess_bulk": 50, "min_ess_tail": 50}  # tiny demo fit
>>> df = pd.DataFrame({"g": rng.choice(list("abc"), 300)})
>>> df["y"] = (rng.random(300) < np.where(df["g"] == "a", 0.8, 0.3)).astype(int)
>>> f = fit(df, "y", group_effects=["g"], gate=Gate("warn", **LOOSE),
...         sampler=Sampler(draws=300, tune=300, chains=2, backend="nutpie", seed=1))
>>> frame = pd.DataFrame({"g": ["a", "b", "c", "d"], "n": [10, 10, 10, 10]})
>>> est = poststratify(f, frame, by="g")
>>> est.table["domain"].tolist()
['a', 'b', 'c', 'd', 'Total']
>>> bool(est.table["se"].iloc[3] > est.table["se"].iloc[0])  # 'd' unseen: prior predictive
True
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from calib.core.cells import format_level
from calib.core.errors import DataError
from calib.core.literals import Family
from calib.mrp.spec import encode_for_spec

#: Label of the national (all-frame) row.
TOTAL = "Total"


@dataclass(frozen=True)
class MRPEstimate:
    """Poststratified MRP estimates.

    Attributes
    ----------
    table : one row per (outcome level, domain) plus the national row (``by`` missing,
        ``domain="Total"``): ``outcome, level, by, domain, estimate`` (posterior mean), ``se``
        (posterior sd), ``ci_low, ci_high`` (central interval at ``level``), ``n`` (frame
        count of the domain = the population it represents), ``n_sample`` (sample rows in the
        domain, 0 for unseen levels; NA when ``by`` is not a model variable), ``q05, q50, q95``.
    draws : long posterior draws ``outcome, level, by, domain, draw, estimate`` (the election
        layer reads ``domain, draw, estimate``).
    """

    table: pd.DataFrame
    draws: pd.DataFrame

    def to_frame(self) -> pd.DataFrame:
        """The summary table."""
        return self.table


def _unseen_draws(t, b: np.ndarray, sd: np.ndarray, labels: pd.Series, idx: np.ndarray,
                  rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Extend effect draws ``b`` (S, [K-1], L) with prior-predictive draws for unseen levels."""
    unseen = idx < 0
    if not unseen.any():
        return b, idx
    codes, uniq = pd.factorize(labels[unseen])
    u = len(uniq)
    shape = (*b.shape[:-1], u)
    new = rng.standard_normal(shape) * sd.reshape(*sd.shape, 1)
    out_idx = idx.copy()
    out_idx[unseen] = b.shape[-1] + codes
    return np.concatenate([b, new], axis=-1), out_idx


def _predictor_parts(fit: Any, frame: pd.DataFrame, seed: int | None) -> list:
    """Per term ``(kind, draws, x)``: effect draws (prior-predictive draws appended for unseen
    levels) and the frame's index/values, so the predictor can be built for any slice of
    draws without holding all draws x cells at once."""
    spec = fit.spec
    _, arrays = encode_for_spec(spec, frame)
    rng = np.random.default_rng(seed)
    parts: list = [("intercept", fit.draws("Intercept"), None)]
    for t in spec.terms:
        x = arrays[t.name]
        b = fit.draws(f"b_{t.name}")
        if t.kind in ("group", "domain_group"):
            sd = fit.draws(f"sd_{t.name}")
            if t.kind == "group":
                cols = [frame[v].map(format_level).astype(str) for v in t.variables]
                labels = cols[0].str.cat(cols[1:], sep=":") if len(cols) > 1 else cols[0]
            else:
                labels = frame[t.key].map(format_level).astype(str)
            b, x = _unseen_draws(t, b, sd, labels.reset_index(drop=True), x, rng)
            parts.append(("index", b, x))
        elif t.kind == "fixed":
            parts.append(("index", np.concatenate([np.zeros((*b.shape[:-1], 1)), b], axis=-1),
                          x))
        else:
            parts.append(("slope", b, x))
    return parts


def _eta(parts: list, n_cells: int, sl: slice) -> np.ndarray:
    """The linear predictor for the draws ``sl``: (s, C) or (s, K-1, C)."""
    eta = parts[0][1][sl][..., None] + np.zeros(n_cells)
    for kind, b, x in parts[1:]:
        eta += b[sl][..., x] if kind == "index" else b[sl][..., None] * x
    return eta


def linear_predictor(fit: Any, frame: pd.DataFrame, seed: int | None = 0) -> np.ndarray:
    """Posterior draws of the linear predictor on the frame's cells (all draws at once).

    Returns (S, C) for binomial, (S, K-1, C) for categorical (non-reference categories).
    :func:`poststratify` builds the same predictor in chunks of draws.
    """
    parts = _predictor_parts(fit, frame, seed)
    eta = _eta(parts, len(frame), slice(None))
    if fit.spec.family == "categorical" and eta.ndim != 3:
        raise AssertionError("categorical predictor must be (S, K-1, C)")
    return eta


def _probabilities(eta: np.ndarray, family: Family) -> np.ndarray:
    """(S, K, C) outcome probabilities (binomial: K = 2)."""
    if family == "binomial":
        p1 = 1.0 / (1.0 + np.exp(-eta))
        return np.stack([1 - p1, p1], axis=1)
    full = np.concatenate([np.zeros((eta.shape[0], 1, eta.shape[2])), eta], axis=1)
    full -= full.max(axis=1, keepdims=True)
    e = np.exp(full)
    return e / e.sum(axis=1, keepdims=True)


def poststratify(
    fit: Any,
    frame: pd.DataFrame,
    by: str | None = "state",
    count: str = "n",
    level: float = 0.95,
    set: Mapping[str, str] | None = None,  # noqa: A002 - the issue's name
    seed: int | None = 0,
    chunk_elements: int = 2_000_000,
) -> MRPEstimate:
    """Poststratify an MRP fit on a frame of cells with counts.

    Parameters
    ----------
    fit : an :class:`~calib.mrp.model.MRPFit`.
    frame : one row per population cell with every model variable and ``count``.
    by : domain column (``None``: national only).
    count : column of cell population counts (>= 0).
    level : central interval probability.
    set : ``{variable: level}`` fixed for every frame cell, e.g.
        ``{"persona_type": "meta"}`` - predictions as if every persona were of that type
        (the level must be one the model has seen).
    seed : seed of the prior-predictive draws for unseen levels.
    chunk_elements : the predictor is built for as many draws at a time as keep
        ``draws x cells x outcome levels`` under this (default 2M floats = 16 MB per array;
        4000 draws x 12,000 cells would be 384 MB at once). Results do not depend on it.

    Returns
    -------
    MRPEstimate
    """
    n = _counts(frame, count)
    frame = _with_levels_set(fit, frame.reset_index(drop=True), set)
    if by is not None and by not in frame.columns:
        raise DataError(f"by={by!r} is not a frame column ({list(frame.columns)})")
    fam = fit.spec.family
    levels = fit.spec.outcome_levels
    keep_k = [1] if fam == "binomial" else list(range(len(levels)))
    domains = _domain_matrix(frame, by, n) if by is not None else None
    parts = _predictor_parts(fit, frame, seed)
    S = parts[0][1].shape[0]
    nat = np.empty((S, len(keep_k)))
    dom = np.empty((S, len(keep_k), len(domains[2]))) if domains is not None else None
    step = max(1, int(chunk_elements // max(len(frame) * len(levels), 1)))
    for s0 in range(0, S, step):
        eta = _eta(parts, len(frame), slice(s0, s0 + step))
        p = _probabilities(eta, fam)[:, keep_k, :]
        nat[s0:s0 + step] = p @ n / n.sum()
        if dom is not None:
            A, dom_n, _ = domains  # type: ignore[misc]
            dom[s0:s0 + step] = (p @ A) / dom_n
    rows = _Rows(fit.spec.outcome, levels, level, S)
    ns_map = _sample_rows(fit, by)
    for j, k in enumerate(keep_k):
        if dom is not None:
            _, dom_n, names = domains  # type: ignore[misc]
            for i, d in enumerate(names):
                ns = int(ns_map.get(d, 0)) if ns_map or by in fit.cells.variables else pd.NA
                rows.add(k, by, str(d), dom[:, j, i], float(dom_n[i]), ns)
        rows.add(k, None, TOTAL, nat[:, j], float(n.sum()), int(fit.cells.count.sum()))
    return MRPEstimate(pd.DataFrame(rows.rows), pd.concat(rows.draws, ignore_index=True))


def _counts(frame: pd.DataFrame, count: str) -> np.ndarray:
    """The frame's cell counts, checked (present, not missing, >= 0, some > 0)."""
    if count not in frame.columns:
        raise DataError(f"frame has no count column {count!r}; pass count='<column>'")
    n = frame[count].to_numpy(dtype=float)
    if np.isnan(n).any() or (n < 0).any():
        raise DataError(f"frame column {count!r} has missing or negative counts; fix the frame")
    if n.sum() <= 0:
        raise DataError(f"frame column {count!r} sums to 0; nothing to poststratify")
    return n


def _with_levels_set(fit: Any, frame: pd.DataFrame,
                     levels: Mapping[str, str] | None) -> pd.DataFrame:
    """The frame with ``{variable: level}`` fixed in every cell (``poststratify(set=)``)."""
    for var, lv in (levels or {}).items():
        known = fit.spec.variable_levels.get(var)
        if known is None:
            raise DataError(f"set names {var!r}, which is not a model variable "
                            f"({list(fit.spec.variable_levels)})")
        if str(lv) not in known:
            raise DataError(f"set[{var!r}]={lv!r} is not a level the model has seen {known}")
        frame = frame.assign(**{var: str(lv)})
    return frame


def _domain_matrix(frame: pd.DataFrame, by: str,
                   n: np.ndarray) -> tuple[np.ndarray, np.ndarray, pd.Index]:
    """``(A, dom_n, domains)``: cell x domain counts, the domains' counts and labels (in the
    order of a categorical ``by`` column's categories, else of first appearance)."""
    dom_codes, domains = pd.factorize(frame[by].map(format_level).astype(str), sort=False)
    if isinstance(frame[by].dtype, pd.CategoricalDtype):
        order = [format_level(c) for c in frame[by].cat.categories]
        seen = frozenset(domains)
        domains_sorted = [d for d in order if d in seen]
        remap = {d: i for i, d in enumerate(domains_sorted)}
        dom_codes = np.array([remap[domains[int(c)]] for c in dom_codes])
        domains = pd.Index(domains_sorted)
    A = np.zeros((len(frame), len(domains)))
    A[np.arange(len(frame)), dom_codes] = n
    dom_n = A.sum(axis=0)
    if (dom_n <= 0).any():
        raise DataError(f"domains {list(np.asarray(domains)[dom_n <= 0])} have zero frame "
                        "count; drop them from the frame")
    return A, dom_n, domains


def _sample_rows(fit: Any, by: str | None) -> dict[Any, int]:
    """Sample rows per level of ``by`` when it is a model variable (else empty)."""
    if by is None or by not in fit.cells.variables:
        return {}
    c = fit.cells
    lv = np.asarray(c.levels[by])[c.codes(by)]
    return pd.Series(c.count).groupby(lv).sum().to_dict()


class _Rows:
    """The summary rows and long draws of :func:`poststratify`, one domain at a time."""

    def __init__(self, outcome: str, levels: tuple[str, ...], level: float, n_draws: int):
        self.outcome, self.levels, self.n_draws = outcome, levels, n_draws
        self.a = (1 - level) / 2
        self.rows: list[dict[str, Any]] = []
        self.draws: list[pd.DataFrame] = []

    def add(self, k: int, by_name: str | None, domain: str, d: np.ndarray, pop: float,
            ns: Any) -> None:
        a = self.a
        q = np.quantile(d, [a, 1 - a, 0.05, 0.5, 0.95])
        self.rows.append({"outcome": self.outcome, "level": self.levels[k], "by": by_name,
                          "domain": domain, "estimate": float(d.mean()),
                          "se": float(d.std(ddof=1)), "ci_low": q[0], "ci_high": q[1],
                          "n": pop, "n_sample": ns, "q05": q[2], "q50": q[3], "q95": q[4]})
        self.draws.append(pd.DataFrame({"outcome": self.outcome, "level": self.levels[k],
                                        "by": by_name, "domain": domain,
                                        "draw": np.arange(self.n_draws), "estimate": d}))


__all__ = ["poststratify", "MRPEstimate", "linear_predictor", "TOTAL"]
