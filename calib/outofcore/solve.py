"""Weighting methods on a prebuilt cell table (no rows): rake, poststratify, calibrate.

These call the same solvers as the in-memory methods (:func:`calib.weighting.ipf.ipf`, the
poststratification closed form, :func:`calib.weighting.calibrate.newton`) on the design from
:func:`calib.weighting.problem.from_cells`, and return the factor ``g`` per cell with the
:class:`~calib.weighting.result.Step` record. A row's weight is then ``base weight x g`` of its
cell, the same as in memory.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from calib.core.cells import CellTable
from calib.core.errors import (
    ConvergenceError,
    DataError,
    InfeasibleError,
    TargetError,
)
from calib.core.targets import Targets
from calib.weighting import distance as _distance
from calib.weighting import problem as _design
from calib.weighting.calibrate import newton
from calib.weighting.ipf import ipf
from calib.weighting.result import Calibration, Step

METHODS = ("rake", "poststratify", "calibrate")


def _g(new: np.ndarray, old: np.ndarray) -> np.ndarray:
    g = np.ones(old.size)
    np.divide(new, old, out=g, where=old > 0)
    return g


def solve_cells(
    cells: CellTable,
    targets: Targets,
    method: str = "rake",
    *,
    population: float | None = None,
    dropped: Mapping[str, int] | None = None,
    **options: Any,
) -> tuple[np.ndarray, Step]:
    """Solve a weighting method on a cell table; return ``g`` per cell and the Step.

    Parameters
    ----------
    cells : cell table over the targets' variables with the targets' levels.
    targets : the margins.
    method : ``"rake"`` (options ``tol``, ``max_iter``), ``"poststratify"`` (one margin) or
        ``"calibrate"`` (options ``distance``, ``bounds``, ``tol``, ``max_iter``).

    Examples
    --------
    >>> import pandas as pd
    >>> from calib.core.cells import collapse, encode
    >>> t = Targets.from_frame(pd.DataFrame({"variable": "x", "level": ["a", "b"],
    ...                                      "total": [3.0, 1.0]}))
    >>> cells, _ = collapse(encode(pd.DataFrame({"x": ["a", "b", "a"]}), ["x"],
    ...                            levels=t.levels()))
    >>> g, step = solve_cells(cells, t, "poststratify")
    >>> g.tolist(), step.method
    ([1.5, 1.0], 'poststratify')
    """
    if method not in METHODS:
        raise DataError(
            f"method {method!r} is not available out of core; use one of {list(METHODS)} "
            "(or engine='memory' for the other methods)"
        )
    if method == "poststratify" and len(targets) != 1:
        raise TargetError(
            f"poststratify takes one margin over all poststratification variables, got "
            f"{len(targets)}: {targets.names}. Give the joint margin, or use rake/calibrate"
        )
    d = _design.from_cells(cells, targets, population=population, dropped=dict(dropped or {}))
    w = cells.weight
    X, totals, labels = d.matrix()
    missing = options.pop("missing", "error")
    info: dict[str, Any]  # the Step's convergence fields
    if method == "rake":
        if d.numeric_margins:
            raise DataError(
                "rake takes categorical margins only; numeric auxiliaries "
                f"{[m.name for m in d.numeric_margins]} need method='calibrate'"
            )
        if options.get("cap") is not None:
            raise DataError(
                "cap= is not available out of core (it needs each row's base weight); rake "
                "without a cap, or use engine='memory'"
            )
        tol, max_iter = options.get("tol", 1e-10), options.get("max_iter", 1000)
        res = ipf(w, d.index, [m.values for m in d.categorical], tol=tol, max_iter=max_iter)
        if not res.converged:
            name, level, err = d.worst(res.weight)
            raise ConvergenceError(
                f"rake did not converge in {res.iterations} sweeps: worst margin {name!r} "
                f"level {level!r} is off by {err:.3g} (relative; tol={tol:g}). Raise max_iter, "
                "loosen tol, or check that the margins are consistent"
            )
        g, dist, bounds = _g(res.weight, w), "raking", (-np.inf, np.inf)
        info = dict(converged=True, iterations=res.iterations, max_error=res.max_error,
                    history=res.history)
        opts = {"tol": tol, "max_iter": max_iter, "cap": None, "missing": missing}
    elif method == "poststratify":
        idx, t = d.index[0], d.categorical[0].values
        got = np.bincount(idx, weights=w, minlength=t.size)
        g = np.ones(cells.n_cells)
        np.divide(t[idx], got[idx], out=g, where=got[idx] > 0)
        ach = np.bincount(idx, weights=w * g, minlength=t.size)
        err = float(np.max(np.abs(ach - t) / np.maximum(np.abs(t), 1e-300))) if t.size else 0.0
        dist, bounds = "linear", (-np.inf, np.inf)
        info = dict(converged=True, iterations=1, max_error=err, history=())
        opts = {"collapse": {}, "missing": missing}
    else:
        dist_obj = _distance.get(options.get("distance", "linear"))
        L, U = _distance.check_bounds(dist_obj, options.get("bounds"))
        tol, max_iter = options.get("tol", 1e-7), options.get("max_iter", 50)
        used = ~((totals == 0) & ~X.any(axis=0))
        Xu, tu = X[:, used], totals[used]
        res = newton(Xu, w, tu, dist_obj, (L, U), tol=tol, max_iter=max_iter)
        if not res.converged:
            damped = newton(Xu, w, tu, dist_obj, (L, U), tol=tol, max_iter=max_iter, damped=True)
            res = damped if damped.converged else res
        if not res.converged:
            where, level, _ = d.worst(w * res.g)
            raise ConvergenceError(
                f"calibrate ({dist_obj.name}) did not converge in {res.iterations} Newton steps: "
                f"worst margin {where!r} level {level!r}; max |misfit|/(1+|total|) = "
                f"{res.max_error:.3g} (tol={tol:g}). Raise max_iter, widen bounds, or check "
                "the totals"
            )
        g = res.g
        if (g < 0).any():
            raise InfeasibleError(
                f"calibrate ({dist_obj.name}): {int(cells.count[g < 0].sum())} rows in "
                f"{int((g < 0).sum())} cells get negative weights; use distance='raking' or "
                "'logit', or bounds=(L, U) with L >= 0"
            )
        dist, bounds = dist_obj.name, (L * res.scale, U * res.scale)
        if dist == "linear" and (np.isfinite(L) or np.isfinite(U)):
            dist = "truncated"
        info = dict(converged=True, iterations=res.iterations, max_error=res.max_error,
                    history=res.history)
        opts = {"distance": dist, "bounds": (L, U), "tol": tol, "max_iter": max_iter,
                "trim": None, "missing": missing, "trimmed": 0, "rescale": res.scale}
    # no rows in memory out of core: row_cell is empty
    cal = Calibration(cells=cells, row_cell=np.empty(0, dtype=np.int64), X=X, totals=totals,
                      labels=labels, g=g, distance=dist, bounds=bounds, margin_index=d.index)
    step = Step(method=method, options=opts, targets=d.targets, dropped=d.dropped,
                calibration=cal, **info)
    return g, step


__all__ = ["solve_cells", "METHODS"]
