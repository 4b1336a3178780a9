"""Weight diagnostics: Kish effective sample size and design effect, weight summary, margin
table before/after weighting, absolute standardized mean differences (ASMD).

Definitions
-----------
* Kish (1965) effective sample size ``n_eff = (sum w)^2 / sum w^2`` and design effect due to
  weighting ``deff = n / n_eff = 1 + CV^2`` where ``CV`` is the coefficient of variation of the
  weights with the population (``1/n``) variance.
* ASMD of a categorical variable: the mean over its levels of
  ``|p_w - p_ref| / sqrt(p_ref (1 - p_ref))``, the difference of the weighted share of a level
  and its reference share divided by the reference's standard deviation of the level's
  indicator. This is the definition of the ``balance`` package (``asmd`` with
  ``std_type="target"``, aggregated by main covariate as a mean over the dummies). Levels with
  a reference share of 0 or 1 have no spread and are left out of the mean. For a numeric
  variable ``|mean_w - mean_ref| / sd_ref`` (weighted reference standard deviation).

References: Kish (1965) *Survey Sampling*; Stuart (2010) Stat. Sci. 25:1-21 (standardized
differences); Sarig, Galili & Eilat (2023) *balance* (arXiv 2307.06024).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from calib.core.cells import format_level
from calib.core.errors import DataError
from calib.core.sample import check_weights
from calib.core.targets import JOINT_SEP, Targets
from calib.core.util import kish_ess as _kish

#: Multiples of the mean weight counted by :func:`weight_summary`.
SHARE_ABOVE = (3, 5, 10)
#: Level text given to missing values in the tables.
MISSING = "<missing>"


def _weights(w: Any) -> np.ndarray:
    a = np.asarray(w, dtype=float).ravel()
    if a.size == 0:
        raise DataError("weights: no values; diagnostics need at least one weight")
    return check_weights(a, "weights")


def kish_ess(w: Sequence[float] | np.ndarray | pd.Series) -> float:
    """Kish effective sample size ``(sum w)^2 / sum w^2``.

    Examples
    --------
    >>> kish_ess([1, 1, 2, 4])
    2.909090909090909
    """
    return _kish(_weights(w))


def design_effect(w: Sequence[float] | np.ndarray | pd.Series) -> float:
    """Kish design effect due to weighting ``n / n_eff = 1 + CV^2``.

    Examples
    --------
    >>> design_effect([1, 1, 2, 4])
    1.375
    """
    a = _weights(w)
    return float(a.size * (a**2).sum() / a.sum() ** 2)


def weight_summary(w: Sequence[float] | np.ndarray | pd.Series) -> pd.Series:
    """n, total, min, max, mean, CV, max/min ratio, n_eff, deff and the share of weights above
    3, 5 and 10 times the mean weight (``above_3x_mean`` ...), as a Series.

    Examples
    --------
    >>> s = weight_summary([1, 1, 2, 4])
    >>> float(s["cv"]), float(s["max_min_ratio"]), float(s["above_3x_mean"])
    (0.6123724356957945, 4.0, 0.0)
    """
    a = _weights(w)
    mean = a.mean()
    out: dict[str, float] = {
        "n": float(a.size),
        "total": float(a.sum()),
        "min": float(a.min()),
        "max": float(a.max()),
        "mean": float(mean),
        "cv": float(a.std() / mean),
        "max_min_ratio": float(a.max() / a.min()) if a.min() > 0 else float("inf"),
        "n_eff": kish_ess(a),
        "deff": design_effect(a),
    }
    for k in SHARE_ABOVE:
        out[f"above_{k}x_mean"] = float(np.mean(a > k * mean))
    return pd.Series(out, name="value")


def _labels(frame: pd.DataFrame, variables: Sequence[str]) -> pd.Series:
    """Level text of every row for one (joint) variable; missing values get :data:`MISSING`."""
    parts = []
    for v in variables:
        if v not in frame.columns:
            raise DataError(f"variable {v!r} is not in the data; add the column or drop the margin")
        codes, uniq = pd.factorize(frame[v], use_na_sentinel=True)
        text = np.array([format_level(u) for u in uniq] + [MISSING], dtype=object)
        parts.append(text[codes])  # code -1 -> MISSING
    lab = parts[0]
    for p in parts[1:]:
        lab = np.char.add(np.char.add(lab.astype(str), JOINT_SEP), p.astype(str))
    return pd.Series(np.asarray(lab, dtype=object), index=frame.index)


def _shares(labels: pd.Series, w: np.ndarray) -> pd.Series:
    s = pd.Series(w, index=labels.index).groupby(labels.to_numpy(), sort=False).sum()
    return s / w.sum()


def margin_table(sample: Any, targets: Targets) -> pd.DataFrame:
    """Margins before and after weighting against the targets, as shares.

    One row per target margin entry (plus sample levels the targets lack, with target share
    0): ``margin, level, n`` (unweighted count), ``sample_share`` (unweighted),
    ``before_share`` (base weights), ``after_share`` (current weights), ``target_share`` and
    ``error`` (``after_share - target_share``). Shares of a margin are over its total (a joint
    margin ``age:state`` sums to one over all its entries). A numeric auxiliary gets one row
    with means instead of shares (the target mean is its total over the population).

    Examples
    --------
    >>> import pandas as pd
    >>> from calib import Sample, Targets
    >>> df = pd.DataFrame({"sex": ["F", "M", "M", "M"]})
    >>> t = Targets.from_frame(pd.DataFrame({"variable": ["sex", "sex"], "level": ["F", "M"],
    ...                                      "share": [0.5, 0.5]}))
    >>> margin_table(Sample(df).rake(t), t)[["level", "sample_share", "after_share", "error"]]
      level  sample_share  after_share  error
    0     F          0.25          0.5    0.0
    1     M          0.75          0.5    0.0
    """
    frame = sample.frame
    w_after = np.asarray(sample.weight_array, dtype=float)
    w_before = np.asarray(sample.base_weights, dtype=float)
    ones = np.ones(len(frame))
    rows = []
    population = targets.population
    for m in targets:
        if m.numeric:
            v = m.variables[0]
            x = pd.to_numeric(frame[v], errors="coerce").to_numpy(dtype=float)
            ok = np.isfinite(x)
            pop = population if population is not None else w_after.sum()
            tgt = m.values[0] / pop
            means = [float(np.average(x[ok], weights=ww[ok])) for ww in (ones, w_before, w_after)]
            rows.append(
                (m.name, "", int(ok.sum()), *means, float(tgt), means[2] - float(tgt))
            )
            continue
        lab = _labels(frame, m.variables)
        counts = lab.value_counts(sort=False)
        sh = [_shares(lab, ww) for ww in (ones, w_before, w_after)]
        tgt = m.values / m.values.sum()
        names = m.level_labels()
        extra = [lv for lv in counts.index if lv not in set(names)]
        for lv, t in [*zip(names, tgt, strict=True), *((lv, 0.0) for lv in extra)]:
            got = [float(s.get(lv, 0.0)) for s in sh]
            rows.append((m.name, lv, int(counts.get(lv, 0)), *got, float(t), got[2] - float(t)))
    return pd.DataFrame(
        rows,
        columns=[
            "margin", "level", "n", "sample_share", "before_share", "after_share",
            "target_share", "error",
        ],
    )  # fmt: skip


def _reference_shares(
    reference: pd.DataFrame | Targets, variables: Sequence[str], ref_w: np.ndarray | None
) -> dict[str, pd.Series | tuple[float, float]]:
    """Per variable (or joint margin name): level -> share, or (mean, sd) for numeric."""
    out: dict[str, pd.Series | tuple[float, float]] = {}
    if isinstance(reference, Targets):
        for m in reference:
            if m.numeric:
                continue
            if variables and m.name not in variables:
                continue
            out[m.name] = pd.Series(m.values / m.values.sum(), index=m.level_labels())
        return out
    w = np.ones(len(reference)) if ref_w is None else _weights(ref_w)
    for v in variables:
        col = reference[v]
        if pd.api.types.is_numeric_dtype(col.dtype) and not pd.api.types.is_bool_dtype(col.dtype):
            x = col.to_numpy(dtype=float)
            ok = np.isfinite(x)
            mu = float(np.average(x[ok], weights=w[ok]))
            sd = float(np.sqrt(np.average((x[ok] - mu) ** 2, weights=w[ok])))
            out[v] = (mu, sd)
        else:
            out[v] = _shares(_labels(reference, [v]), w)
    return out


def asmd(
    frame: pd.DataFrame,
    weights: Sequence[float] | np.ndarray | pd.Series,
    reference: pd.DataFrame | Targets,
    *,
    variables: Sequence[str] | None = None,
    reference_weight: str | Sequence[float] | np.ndarray | None = None,
) -> pd.Series:
    """Absolute standardized mean difference per variable against a reference.

    Parameters
    ----------
    frame, weights : the rows and their weights.
    reference : a reference DataFrame (microdata; weighted by ``reference_weight``) or
        ``Targets`` (each categorical margin is a variable; joint margins by their name).
    variables : variables to compare; default every categorical target margin, or the columns
        shared by ``frame`` and the reference frame.

    Returns
    -------
    pandas.Series indexed by variable (see the module docstring for the definition).

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"sex": ["F", "M", "M", "M"]})
    >>> ref = pd.DataFrame({"sex": ["F", "M"]})
    >>> asmd(df, [1, 1, 1, 1], ref).round(6).tolist()  # |0.25 - 0.5| / 0.5 for both levels
    [0.5]
    """
    w = _weights(weights)
    if w.size != len(frame):
        raise DataError(f"weights has {w.size} values for {len(frame)} rows")
    ref_w = None
    if isinstance(reference, pd.DataFrame):
        if isinstance(reference_weight, str):
            if reference_weight not in reference.columns:
                raise DataError(f"reference weight column {reference_weight!r} is not in the data")
            ref_w = reference[reference_weight].to_numpy(dtype=float)
        elif reference_weight is not None:
            ref_w = np.asarray(reference_weight, dtype=float)
        if variables is None:
            skip = {reference_weight} if isinstance(reference_weight, str) else set()
            variables = [c for c in frame.columns if c in reference.columns and c not in skip]
    elif not isinstance(reference, Targets):
        raise DataError(
            f"reference must be a DataFrame or Targets, got {type(reference).__name__}"
        )
    ref = _reference_shares(reference, list(variables or ()), ref_w)
    out = {}
    for name, r in ref.items():
        if isinstance(r, tuple):
            mu, sd = r
            x = pd.to_numeric(frame[name], errors="coerce").to_numpy(dtype=float)
            ok = np.isfinite(x)
            diff = abs(float(np.average(x[ok], weights=w[ok])) - mu)
            out[name] = diff / sd if sd > 0 else (0.0 if diff == 0 else float("inf"))
            continue
        p = _shares(_labels(frame, name.split(JOINT_SEP)), w)
        levels = r.index.union(p.index)
        pr = r.reindex(levels, fill_value=0.0).to_numpy(dtype=float)
        pw = p.reindex(levels, fill_value=0.0).to_numpy(dtype=float)
        ok = (pr > 0) & (pr < 1)
        if not ok.any():
            out[name] = 0.0 if np.allclose(pr, pw) else float("inf")
            continue
        out[name] = float(np.mean(np.abs(pw[ok] - pr[ok]) / np.sqrt(pr[ok] * (1 - pr[ok]))))
    return pd.Series(out, name="asmd", dtype=float)


@dataclass(frozen=True)
class Diagnostics:
    """Diagnostics of a weighted sample (see :func:`summary`).

    Attributes
    ----------
    n, n_eff, deff : rows, Kish effective sample size, Kish design effect due to weighting.
    weights : :func:`weight_summary` of the current weights.
    margins : :func:`margin_table` (``None`` without targets).
    asmd : per variable ASMD before (base weights), after (current weights), and unweighted
        (``None`` without targets or a reference).
    method : the last weighting step's method (``None`` for an unweighted sample).
    values, base_values : the current and base weights (for :meth:`plot`).
    """

    n: int
    n_eff: float
    deff: float
    weights: pd.Series
    margins: pd.DataFrame | None = None
    asmd: pd.DataFrame | None = None
    method: str | None = None
    values: np.ndarray | None = field(default=None, repr=False, compare=False)
    base_values: np.ndarray | None = field(default=None, repr=False, compare=False)

    def __repr__(self) -> str:
        # short: the tables are in str() and the notebook view
        worst = ""
        if self.margins is not None and len(self.margins):
            worst = f", max |margin error|={float(self.margins['error'].abs().max()):.3g}"
        if self.asmd is not None and len(self.asmd):
            worst += f", max ASMD after={float(self.asmd['after'].max()):.3g}"
        return (f"<Diagnostics {self.method or 'unweighted'}: n={self.n}, "
                f"ESS={self.n_eff:.1f}, deff={self.deff:.3f}{worst}>")

    def _repr_html_(self) -> str:
        from calib.weighting.plots import diagnostics_html

        return diagnostics_html(self)

    def plot(self) -> Any:
        """A matplotlib Figure: the weight distribution and a love plot (before/after).

        See :func:`calib.weighting.plots.plot_diagnostics`.
        """
        from calib.weighting.plots import plot_diagnostics

        return plot_diagnostics(self)

    def to_dict(self) -> dict:
        """JSON-friendly dictionary (tables as lists of records)."""
        return {
            "n": int(self.n),
            "n_eff": float(self.n_eff),
            "deff": float(self.deff),
            "method": self.method,
            "weights": {k: float(v) for k, v in self.weights.items()},
            "margins": None if self.margins is None else _records(self.margins),
            "asmd": None if self.asmd is None else _records(self.asmd.reset_index()),
        }

    def __str__(self) -> str:
        lines = [
            f"n = {self.n}, Kish n_eff = {self.n_eff:.1f}, deff = {self.deff:.3f}"
            + (f" (after {self.method})" if self.method else ""),
            "",
            "weights",
            self.weights.to_frame().to_string(float_format=lambda v: f"{v:.4g}"),
        ]
        if self.margins is not None:
            lines += ["", "margins (shares)", self.margins.to_string(index=False, float_format=_f4)]
        if self.asmd is not None:
            lines += ["", "ASMD", self.asmd.to_string(float_format=_f4)]
        return "\n".join(lines)


def _f4(v: float) -> str:
    return f"{v:.4f}"


def _records(df: pd.DataFrame) -> list[dict]:
    out = []
    for rec in df.to_dict(orient="records"):
        out.append({str(k): (v.item() if isinstance(v, np.generic) else v) for k, v in rec.items()})
    return out


def summary(
    sample: Any,
    targets: Targets | None = None,
    *,
    reference: pd.DataFrame | Any | None = None,
    reference_weight: str | None = None,
    variables: Sequence[str] | None = None,
) -> Diagnostics:
    """Diagnostics of a sample's current weights.

    Parameters
    ----------
    sample : a :class:`calib.Sample`.
    targets : margins for the margin table and the ASMD (default: the last weighting step's
        targets, if any).
    reference : reference microdata (DataFrame or Sample) for the ASMD instead of targets.
    reference_weight : weight column of a reference DataFrame.
    variables : variables for the ASMD against a reference (default: shared columns).

    Examples
    --------
    >>> import pandas as pd
    >>> from calib import Sample, Targets
    >>> df = pd.DataFrame({"sex": ["F", "M", "M", "M"]})
    >>> t = Targets.from_frame(pd.DataFrame({"variable": ["sex", "sex"], "level": ["F", "M"],
    ...                                      "share": [0.5, 0.5]}))
    >>> d = summary(Sample(df).rake(t))
    >>> round(d.n_eff, 4), round(d.deff, 4), d.asmd.round(4).to_dict("records")
    (3.0, 1.3333, [{'unweighted': 0.5, 'before': 0.5, 'after': 0.0}])
    """
    w = sample.weight_array
    method = sample.history[-1].method if sample.history else None
    if targets is None and reference is None and sample.history:
        targets = sample.history[-1].targets
    margins = None if targets is None else margin_table(sample, targets)
    table = None
    ref: Any = None
    ref_w: Any = None
    if reference is not None:
        if hasattr(reference, "frame") and hasattr(reference, "weight_array"):
            ref, ref_w = reference.frame, reference.weight_array
        else:
            ref, ref_w = reference, reference_weight
    elif targets is not None:
        ref = targets
    if ref is not None:
        frame = sample.frame
        cols = {
            "unweighted": np.ones(len(frame)),
            "before": np.asarray(sample.base_weights, dtype=float),
            "after": w,
        }
        table = pd.DataFrame(
            {
                k: asmd(frame, ww, ref, variables=variables, reference_weight=ref_w)
                for k, ww in cols.items()
            }
        )
        table.index.name = "variable"
    return Diagnostics(
        n=int(w.size),
        n_eff=kish_ess(w),
        deff=design_effect(w),
        weights=weight_summary(w),
        margins=margins,
        asmd=table,
        method=method,
        values=np.asarray(w, dtype=float),
        base_values=np.asarray(sample.base_weights, dtype=float),
    )


__all__ = [
    "Diagnostics",
    "asmd",
    "design_effect",
    "kish_ess",
    "margin_table",
    "summary",
    "weight_summary",
]
