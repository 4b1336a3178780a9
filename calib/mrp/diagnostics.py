"""The diagnostics gate of an MRP fit: R-hat, bulk and tail ESS, divergences.

Defaults (Vehtari et al. 2021, arXiv 1903.08008): rank-normalized split R-hat <= 1.01, bulk and
tail ESS >= 400, no divergent transitions after tuning. A fit that fails raises
:class:`~calib.core.errors.DiagnosticsError` (exit code 3) naming the parameters that failed, or warns
with ``gate="warn"``. Every posterior variable is checked (varying intercepts, their scales,
the sum-to-zero raw effects of non-centred terms, fixed effects).

Examples
--------
>>> import numpy as np, xarray as xr
>>> rng = np.random.default_rng(0)
>>> post = xr.Dataset({"mu": (("chain", "draw"), rng.normal(size=(4, 500)))})
>>> stats = xr.Dataset({"diverging": (("chain", "draw"), np.zeros((4, 500), bool))})
>>> table, div = check({"posterior": post, "sample_stats": stats})
>>> div, bool(table["ok"].all())
(0, True)
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, Literal, cast

import numpy as np
import pandas as pd

from calib.core.errors import DataError, DiagnosticsError

#: Default thresholds of the gate.
THRESHOLDS: dict[str, float] = {
    "max_rhat": 1.01,
    "min_ess_bulk": 400.0,
    "min_ess_tail": 400.0,
    "max_divergences": 0.0,
}


@dataclass(frozen=True)
class Gate:
    """The diagnostics gate of :func:`calib.mrp.fit`: what a failing fit does, and the limits.

    Attributes
    ----------
    action : ``"raise"`` (:class:`~calib.core.errors.DiagnosticsError`, exit code 3) or
        ``"warn"`` (a ``UserWarning``; the fit is returned).
    max_rhat, min_ess_bulk, min_ess_tail, max_divergences : the limits (defaults
        :data:`THRESHOLDS`).

    >>> Gate("warn", max_rhat=1.05).thresholds["max_rhat"]
    1.05
    """

    action: Literal["raise", "warn"] = "raise"
    max_rhat: float = THRESHOLDS["max_rhat"]
    min_ess_bulk: float = THRESHOLDS["min_ess_bulk"]
    min_ess_tail: float = THRESHOLDS["min_ess_tail"]
    max_divergences: float = THRESHOLDS["max_divergences"]

    def __post_init__(self) -> None:
        if self.action not in ("raise", "warn"):
            raise DataError(f"gate={self.action!r}: use 'raise' or 'warn'")

    @property
    def thresholds(self) -> dict[str, float]:
        """The limits as :func:`check` takes them."""
        return {k: float(getattr(self, k)) for k in THRESHOLDS}

    @classmethod
    def of(cls, gate: Gate | str, thresholds: Mapping[str, float] | None = None) -> Gate:
        """A Gate from ``"raise"``/``"warn"`` (or a Gate) and a threshold mapping."""
        base = gate if isinstance(gate, Gate) else cls(gate)  # type: ignore[arg-type]
        for k in thresholds or {}:
            if k not in THRESHOLDS:
                raise DataError(f"unknown diagnostics threshold {k!r}; use {sorted(THRESHOLDS)}")
        return replace(base, **{k: float(v) for k, v in (thresholds or {}).items()})


def _posterior(idata: Any):
    post = idata["posterior"]
    return post.to_dataset() if hasattr(post, "to_dataset") else post


def diagnostics_table(idata: Any) -> pd.DataFrame:
    """R-hat, bulk and tail ESS per parameter (flattened: one row per element)."""
    import arviz as az

    # kind="diagnostics" gives a DataFrame (arviz annotates every return kind)
    s = cast(pd.DataFrame, az.summary(_posterior(idata), kind="diagnostics", round_to="none"))
    out = s[["r_hat", "ess_bulk", "ess_tail"]].astype(float)
    out.index.name = "parameter"
    return out


def divergences(idata: Any) -> int:
    """Number of divergent transitions after tuning."""
    stats = idata["sample_stats"]
    if "diverging" not in stats:
        return 0
    return int(np.asarray(stats["diverging"].values).sum())


def check(
    idata: Any, gate: str = "raise", thresholds: Mapping[str, float] | None = None
) -> tuple[pd.DataFrame, int]:
    """Apply the gate; return the per-parameter table (with ``ok``) and the divergence count.

    Raises
    ------
    DiagnosticsError : with ``gate="raise"`` when any threshold fails; the message lists the
        parameters per failed check (at most 8 each, worst first) and what to do.
    """
    th = dict(THRESHOLDS)
    for k, v in (thresholds or {}).items():
        if k not in th:
            raise DataError(f"unknown diagnostics threshold {k!r}; use {sorted(th)}")
        th[k] = float(v)
    table = diagnostics_table(idata)
    div = divergences(idata)
    rh = table["r_hat"].fillna(np.inf)
    bad_rhat = table.index[rh > th["max_rhat"]]
    bad_bulk = table.index[table["ess_bulk"].fillna(0) < th["min_ess_bulk"]]
    bad_tail = table.index[table["ess_tail"].fillna(0) < th["min_ess_tail"]]
    table["ok"] = ~(table.index.isin(bad_rhat) | table.index.isin(bad_bulk)
                    | table.index.isin(bad_tail))
    problems = []

    def listing(idx: pd.Index, col: str, worst_high: bool) -> str:
        vals = table.loc[idx, col].sort_values(ascending=not worst_high).head(8)
        more = f" and {len(idx) - 8} more" if len(idx) > 8 else ""
        return ", ".join(f"{p} ({v:.3g})" for p, v in vals.items()) + more

    if len(bad_rhat):
        problems.append(f"R-hat > {th['max_rhat']:g}: {listing(bad_rhat, 'r_hat', True)}")
    if len(bad_bulk):
        problems.append(f"bulk ESS < {th['min_ess_bulk']:g}: "
                        f"{listing(bad_bulk, 'ess_bulk', False)}")
    if len(bad_tail):
        problems.append(f"tail ESS < {th['min_ess_tail']:g}: "
                        f"{listing(bad_tail, 'ess_tail', False)}")
    if div > th["max_divergences"]:
        problems.append(f"{div} divergent transitions (allowed {th['max_divergences']:g})")
    if problems:
        msg = ("MRP fit failed its diagnostics gate: " + "; ".join(problems)
               + ". Fix: raise the Sampler's draws/tune or chains or target_accept "
               "(divergences), try Sampler(centered=True/False) for the failing terms, or "
               "simplify the model; gate='warn' keeps the fit with a warning.")
        if gate == "raise":
            raise DiagnosticsError(msg)
        warnings.warn(msg, UserWarning, stacklevel=3)
    return table, div


def posterior_table(fit: Any, level: float = 0.95) -> pd.DataFrame:
    """Mean, sd, central interval and the gate's diagnostics per parameter.

    The diagnostics rows are matched to the parameters by name (ArviZ's ``name[level, ...]``
    labels), so their order does not matter.
    """
    post = _posterior(fit.idata)
    a = (1 - level) / 2
    rows = []
    for name, da in post.data_vars.items():
        v = np.asarray(da.values)
        flat = v.reshape(v.shape[0] * v.shape[1], -1)
        extra = [d for d in da.dims if d not in ("chain", "draw")]
        labels = [""] if not extra else [
            "[" + ", ".join(str(x) for x in combo) + "]"
            for combo in np.array(np.meshgrid(*[da[d].values for d in extra],
                                              indexing="ij")).reshape(len(extra), -1).T
        ]
        q = np.quantile(flat, [a, 1 - a], axis=0)
        for j, lab in enumerate(labels):
            rows.append({"parameter": f"{name}{lab}", "mean": flat[:, j].mean(),
                         "sd": flat[:, j].std(ddof=1), "ci_low": q[0, j], "ci_high": q[1, j]})
    out = pd.DataFrame(rows).set_index("parameter")
    diag = fit.diagnostics[["r_hat", "ess_bulk", "ess_tail"]]
    absent = out.index.difference(diag.index)
    if len(absent):  # matched by name, never by position
        raise DataError(f"no diagnostics for parameters {list(absent)[:8]}; the fit's "
                        "diagnostics table does not match its posterior - refit the model")
    return out.join(diag)


__all__ = ["THRESHOLDS", "Gate", "check", "diagnostics_table", "divergences", "posterior_table"]
