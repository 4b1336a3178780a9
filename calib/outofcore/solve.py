"""Weighting methods on a prebuilt cell table (no rows), through the method registry.

A method is available out of core when its registry record
(:mod:`calib.weighting.registry`) declares ``out_of_core``; it is then solved by the same
cell-level solve as in memory (``Method.solve_cells``: rake, poststratify, calibrate) on the
design from :func:`calib.weighting.problem.from_cells`, with the same options, diagnostics
(infeasibility, trimming, ``allow_nonconvergence``) and Step. A row's weight is then
``base weight x g`` of its cell, the same as in memory.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from calib.core.cells import CellTable
from calib.core.errors import DataError
from calib.core.history import Step
from calib.core.targets import Targets
from calib.weighting import problem as _design
from calib.weighting import registry


def check_options(method: str, options: Mapping[str, Any]) -> registry.Method:
    """The method's record, when it and every option in ``options`` work out of core.

    Raises
    ------
    DataError
        For a method whose record does not declare ``out_of_core``, an option it does not
        take, or one that needs the rows (e.g. rake's ``cap``).

    Examples
    --------
    >>> check_options("rake", {"tol": 1e-8}).name
    'rake'
    >>> check_options("rake", {"cap": 3.0})
    Traceback (most recent call last):
    ...
    calib.core.errors.DataError: cap= is not available out of core (it needs the rows: cap weights at cap x the mean weight at every sweep (needs the rows)); drop it, or use engine='memory'
    """
    m = registry.method(method)
    if not m.out_of_core or m.cells is None:
        raise DataError(
            f"method {method!r} is not available out of core; use one of "
            f"{[x.name for x in registry.methods(out_of_core=True)]} (or engine='memory' for "
            "the other methods)"
        )
    known = {o.name: o for o in m.options}
    for name, value in options.items():
        if name not in known:
            raise DataError(
                f"{method} takes no option {name!r}; its options are {sorted(known)}"
            )
        if value is not None and not known[name].out_of_core:
            raise DataError(
                f"{name}= is not available out of core (it needs the rows: {known[name].doc}); "
                "drop it, or use engine='memory'"
            )
    return m


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
    method : a method whose registry record declares ``out_of_core`` (``"rake"``,
        ``"poststratify"`` (one margin), ``"calibrate"``).
    options : the method's options (see its record: ``registry.method(name).options``).

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
    m = check_options(method, options)
    options = {k: v for k, v in options.items() if not (v is None and k == "collapse")}
    d = _design.from_cells(cells, targets, population=population, dropped=dict(dropped or {}))
    sol = m.solve_cells(d, **options)
    return sol.g, sol.step(method, d)


__all__ = ["solve_cells", "check_options"]
