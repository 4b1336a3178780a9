"""Raking (iterative proportional fitting) on the cell table.

One-way and joint margins (a joint margin such as ``age:state`` writes by-domain targets),
convergence on the largest relative margin error, optional cap on weights as a multiple of the
mean weight enforced at every sweep (as anesrake does). Equal to R ``survey::rake`` at
convergence (checked in the test suite).

Reference: Deming & Stephan (1940); Lumley (2010) *Complex Surveys*, ch. 7.
"""

from __future__ import annotations

import warnings

import numpy as np

from calib.core.cells import broadcast
from calib.core.errors import ConvergenceError, DataError
from calib.core.literals import MissingRule
from calib.core.sample import Sample
from calib.core.targets import Targets
from calib.core.util import check_solver
from calib.weighting import problem as _design
from calib.weighting.ipf import ipf
from calib.weighting.solution import CellSolution


def rake(
    sample: Sample,
    targets: Targets,
    *,
    tol: float = 1e-10,
    max_iter: int = 1000,
    cap: float | None = None,
    population: float | None = None,
    missing: MissingRule = "error",
    allow_nonconvergence: bool = False,
) -> Sample:
    """Rake a sample's current weights to the margins in ``targets``.

    Parameters
    ----------
    sample : the Sample; its current weights are the input weights.
    targets : one-way and joint margins; shares are scaled to ``population`` (else the
        targets' population, else the sample's total weight).
    tol : convergence tolerance on the largest relative margin error.
    max_iter : most sweeps over the margins.
    cap : cap each weight at ``cap`` times the mean weight, at every sweep.
    missing : missing values in weighting variables: ``"error"``, ``"drop"`` or ``"level"``.
    allow_nonconvergence : return (with a warning, ``step.converged=False``) instead of raising.

    Returns
    -------
    Sample
        New sample with raked weights; ``history[-1]`` holds the convergence trace and the
        calibration metadata (indicator auxiliaries on cells, g per cell).

    Raises
    ------
    ConvergenceError
        When the margins are not met within ``tol`` after ``max_iter`` sweeps; the message names
        the worst margin entry.

    Examples
    --------
    >>> import pandas as pd
    >>> from calib import Sample, Targets
    >>> df = pd.DataFrame({"sex": list("FFFMMMMMMM"), "age": list("yoyoyoyooo")})
    >>> t = Targets.from_frame(pd.DataFrame({
    ...     "variable": ["sex", "sex", "age", "age"], "level": ["F", "M", "o", "y"],
    ...     "share": [0.5, 0.5, 0.6, 0.4]}), population=100)
    >>> w = Sample(df).rake(t).weights
    >>> w.groupby(df["sex"]).sum().round(8).tolist(), w.groupby(df["age"]).sum().round(8).tolist()
    ([50.0, 50.0], [60.0, 40.0])
    """
    check_solver(tol, max_iter)
    d = _design.build(
        sample.frame, sample.weight_array, targets, population=population, missing=missing
    )
    sol = solve_cells(d, tol=tol, max_iter=max_iter, cap=cap, missing=missing,
                      allow_nonconvergence=allow_nonconvergence)
    base_rows = d.row_weight if d.row_weight is not None else sample.weight_array[d.keep]
    return sample.with_weights(base_rows * broadcast(sol.g, d.row_cell), sol.step("rake", d),
                               d.keep)


def solve_cells(
    problem: _design.CellDesign,
    *,
    tol: float = 1e-10,
    max_iter: int = 1000,
    cap: float | None = None,
    missing: str = "error",
    allow_nonconvergence: bool = False,
) -> CellSolution:
    """Rake on a cell problem: the one raking solve of the in-memory and out-of-core paths.

    Parameters
    ----------
    problem : the cells indexed against the targets (:mod:`calib.weighting.problem`).
    tol, max_iter, cap, allow_nonconvergence : as in :func:`rake`; ``cap`` needs the rows'
        input weights (``problem.row_weight``), so a problem built from a cell table alone
        (out of core) refuses it.
    missing : recorded on the step (the problem was built with it).

    Examples
    --------
    >>> import pandas as pd
    >>> from calib import Targets
    >>> from calib.core.cells import collapse, encode
    >>> t = Targets.from_frame(pd.DataFrame({"variable": "x", "level": ["a", "b"],
    ...                                      "total": [3.0, 3.0]}))
    >>> cells, _ = collapse(encode(pd.DataFrame({"x": ["a", "b", "a"]}), ["x"],
    ...                            levels=t.levels()))
    >>> solve_cells(_design.from_cells(cells, t)).g.tolist()
    [1.5, 3.0]
    """
    if cap is not None and not cap > 1:
        raise DataError(f"cap={cap!r}: the cap is a multiple of the mean weight and must exceed 1")
    d = problem
    if d.numeric_margins:
        raise DataError(
            "rake takes categorical margins only; numeric auxiliaries "
            f"{[m.name for m in d.numeric_margins]} need calibrate(...)"
        )
    cells = d.cells
    cap_cells = None
    if cap is not None:
        if d.row_weight is None or d.row_cell is None:
            raise DataError(
                "cap= is not available out of core (it needs each row's base weight); rake "
                "without a cap, or use engine='memory'"
            )
        base_rows = d.row_weight
        total = float(sum(m.total for m in d.categorical[:1]))
        mean_w = total / base_rows.size
        maxb = np.zeros(cells.n_cells)
        np.maximum.at(maxb, d.row_cell, base_rows)
        with np.errstate(divide="ignore"):
            # cell weight W_c = g_c * sum(base); row weight = g_c * base_i <= cap * mean
            cap_cells = np.where(maxb > 0, cap * mean_w * cells.weight / maxb, np.inf)
    totals = [m.values for m in d.categorical]
    res = ipf(cells.weight, d.index, totals, tol=tol, max_iter=max_iter, cap=cap_cells)
    g = np.ones(cells.n_cells)
    np.divide(res.weight, cells.weight, out=g, where=cells.weight > 0)
    notes: tuple[str, ...] = ()
    if not res.converged:
        name, level, err = d.worst(res.weight)
        msg = (
            f"rake did not converge in {res.iterations} sweeps: worst margin {name!r} level "
            f"{level!r} is off by {err:.3g} (relative; tol={tol:g})"
            + (f" under cap={cap:g} x mean weight; raise the cap" if cap is not None else "")
            + ". Raise max_iter, loosen tol, or check that the margins are consistent"
        )
        if not allow_nonconvergence:
            raise ConvergenceError(msg)
        warnings.warn(msg, UserWarning, stacklevel=3)
        notes = (msg,)
    return CellSolution(
        g=g,
        distance="raking",
        options={"tol": tol, "max_iter": max_iter, "cap": cap, "missing": missing},
        converged=res.converged,
        iterations=res.iterations,
        max_error=res.max_error,
        history=res.history,
        notes=notes,
    )


__all__ = ["rake", "solve_cells"]
