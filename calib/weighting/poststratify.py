"""Poststratification to full joint cells, on the cell table.

Every poststratum (a combination of levels of the poststratification variables) gets the
factor ``g = N_h / sum of input weights in h``, so the weighted count of every poststratum
equals its population count. Equal to R survey ``postStratify`` (checked in the test suite).
A poststratum with a target but no sample is an error naming it; the opt-in ``collapse``
rule merges a level into a named neighbouring level (in sample and targets) first.

References: Holt & Smith (1979) JRSS A 142:33-46; Lumley (2010) *Complex Surveys*, ch. 7;
R survey ``?postStratify``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

import numpy as np
import pandas as pd

from calib.core.cells import broadcast, format_level
from calib.core.errors import DataError, TargetError
from calib.core.literals import MissingRule
from calib.core.sample import Sample
from calib.core.targets import Margin, Targets
from calib.data.variables import LEVELS
from calib.weighting import problem as _design
from calib.weighting.solution import CellSolution

#: Harmonized variables whose levels are ordered: a level may merge only into an adjacent one.
ORDERED = ("age4", "age6", "age10", "educ5", "educ3", "pid7", "ideo5", "ideo3")


def poststratify(
    sample: Sample,
    targets: Targets,
    *,
    collapse: Mapping[str, Mapping[str, str]] | None = None,
    population: float | None = None,
    missing: MissingRule = "error",
) -> Sample:
    """Poststratify a sample's current weights to the cells of one (joint) margin.

    Parameters
    ----------
    sample : the Sample; its current weights are the input weights.
    targets : exactly one margin: a joint margin over every poststratification variable
        (``age6:sex`` with levels ``18-29:Female`` ...) or a one-way margin of one variable.
        Shares are scaled to ``population`` (else the targets' population, else the sample's
        total weight).
    collapse : ``{variable: {level: neighbour}}``: merge ``level`` into ``neighbour`` in both
        the sample and the targets before solving (target totals are added, standard errors
        added in quadrature). For ordered harmonized variables (age, education, party ID,
        ideology) the neighbour must be adjacent. Each merge is recorded in the Step notes.
    missing : missing values in the variables: ``"error"``, ``"drop"`` or ``"level"``.

    Returns
    -------
    Sample
        New sample whose weighted count in every poststratum equals its target;
        ``history[-1].calibration`` holds the indicator matrix and g per cell.

    Raises
    ------
    TargetError
        When the targets are not one margin, when a target cell has no sample (the message
        lists the cells and suggests ``collapse``), or when sample cells have no target.

    Examples
    --------
    >>> import pandas as pd
    >>> from calib import Sample, Targets
    >>> df = pd.DataFrame({"age": ["young", "young", "old", "mid"], "sex": list("FMFF")})
    >>> t = Targets.from_frame(pd.DataFrame({"variable": "age", "level": ["young", "mid",
    ...     "old"], "total": [60.0, 10.0, 30.0]}))
    >>> Sample(df).poststratify(t).weights.tolist()
    [30.0, 30.0, 30.0, 10.0]
    >>> s = Sample(df).poststratify(t, collapse={"age": {"mid": "old"}})
    >>> s.weights.tolist(), s.history[-1].notes[0]
    ([30.0, 30.0, 20.0, 20.0], "age: level 'mid' merged into 'old'")
    """
    if not isinstance(targets, Targets):
        raise TargetError(f"expected a calib.Targets, got {type(targets).__name__}")
    mg = _one_margin(targets)
    frame = sample.frame
    notes: tuple[str, ...] = ()
    if collapse:
        frame, mg, notes = collapse_levels(frame, mg, collapse)
        targets = replace(targets, margins=(mg,))
    d = _design.build(frame, sample.weight_array, targets, population=population, missing=missing)
    sol = solve_cells(d, missing=missing)
    step = sol.step("poststratify", d, notes=notes,
                    options={"collapse": {k: dict(v) for k, v in (collapse or {}).items()}})
    base_rows = sample.weight_array[d.keep]
    return sample.with_weights(base_rows * broadcast(sol.g, d.row_cell), step, d.keep)


def _one_margin(targets: Targets) -> Margin:
    """The one categorical margin poststratification takes (else a TargetError)."""
    if len(targets) != 1:
        raise TargetError(
            f"poststratify takes one margin over all poststratification variables, got "
            f"{len(targets)}: {targets.names}. Give the joint margin (e.g. 'age6:sex'), or use "
            "rake/calibrate for several margins"
        )
    mg = targets.margins[0]
    if mg.numeric:
        raise TargetError(
            f"poststratify: {mg.name!r} is a numeric auxiliary; poststratification needs "
            "categorical cells (use calibrate for numeric totals)"
        )
    return mg


def cell_factors(index: np.ndarray, weight: np.ndarray, totals: np.ndarray) -> np.ndarray:
    """The closed form: ``g = N_h / (input weight in h)`` of every cell's poststratum ``h``.

    Parameters
    ----------
    index : poststratum of every cell; weight : input weight per cell; totals : ``N_h``.

    Examples
    --------
    >>> cell_factors(np.array([0, 1, 0]), np.array([1.0, 2.0, 3.0]), np.array([8.0, 4.0]))
    array([2., 2., 2.])
    """
    got = np.bincount(index, weights=weight, minlength=totals.size)
    g = np.ones(index.size)
    np.divide(totals[index], got[index], out=g, where=got[index] > 0)
    return g


def solve_cells(problem: _design.CellDesign, *, missing: str = "error") -> CellSolution:
    """Poststratify on a cell problem: the one solve of the in-memory and out-of-core paths.

    ``collapse`` needs the rows (it recodes them before the cells are built), so it is applied
    by :func:`poststratify` and is not an option here; ``missing`` is recorded on the step.

    Examples
    --------
    >>> from calib.core.cells import collapse, encode
    >>> t = Targets.from_frame(pd.DataFrame({"variable": "x", "level": ["a", "b"],
    ...                                      "total": [3.0, 1.0]}))
    >>> cells, _ = collapse(encode(pd.DataFrame({"x": ["a", "b", "a"]}), ["x"],
    ...                            levels=t.levels()))
    >>> solve_cells(_design.from_cells(cells, t)).g.tolist()
    [1.5, 1.0]
    """
    _one_margin(problem.targets)
    idx = problem.index[0]
    t = problem.categorical[0].values
    w = problem.cells.weight
    g = cell_factors(idx, w, t)
    X, _, _ = problem.matrix()
    achieved = np.bincount(idx, weights=w * g, minlength=t.size)
    err = float(np.max(np.abs(achieved - t) / np.maximum(np.abs(t), 1e-300))) if t.size else 0.0
    return CellSolution(
        g=g,
        distance="linear",
        options={"collapse": {}, "missing": missing},
        converged=True,
        iterations=1,
        max_error=err,
        X=X,
    )


def _resolve_chain(variable: str, rule: Mapping[str, str]) -> dict[str, str]:
    out = {}
    for src in rule:
        seen = [src]
        dst = rule[src]
        while dst in rule:
            if dst in seen:
                raise DataError(
                    f"collapse[{variable!r}]: the merges {seen + [dst]} form a cycle; merge each "
                    "level into one level that is kept"
                )
            seen.append(dst)
            dst = rule[dst]
        out[src] = dst
    return out


def collapse_levels(
    frame: pd.DataFrame, mg: Margin, collapse: Mapping[str, Mapping[str, str]]
) -> tuple[pd.DataFrame, Margin, tuple[str, ...]]:
    """Merge target levels into neighbours in both the rows and the margin (``collapse`` as
    in :func:`poststratify`). Returns the margin's columns of ``frame`` recoded, the merged
    margin (values and se summed) and one note per merge."""
    notes = []
    frame = frame[list(mg.variables)].copy()
    levels = mg.levels
    for var, rule in collapse.items():
        if var not in mg.variables:
            raise DataError(
                f"collapse names {var!r}, which is not a poststratification variable "
                f"{list(mg.variables)}"
            )
        j = mg.variables.index(var)
        present = list(dict.fromkeys(lv[j] for lv in levels))
        rule = {format_level(k): format_level(v) for k, v in rule.items()}
        for src, dst in rule.items():
            for lv in (src, dst):
                if lv not in present:
                    raise DataError(
                        f"collapse[{var!r}]: level {lv!r} is not a target level of {var!r} "
                        f"(levels: {present})"
                    )
            if src == dst:
                raise DataError(f"collapse[{var!r}]: level {src!r} is merged into itself")
            if var in ORDERED:
                order = [x for x in LEVELS[var] if x in present]
                if src in order and dst in order and abs(order.index(src) - order.index(dst)) != 1:
                    raise DataError(
                        f"collapse[{var!r}]: {src!r} may merge only into an adjacent level of "
                        f"the ordered scheme {order}, not {dst!r}"
                    )
            notes.append(f"{var}: level {src!r} merged into {dst!r}")
        full = _resolve_chain(var, rule)
        col = frame[var]
        obj = col.astype(object).where(~pd.isna(col), None)
        frame[var] = pd.Series(
            [None if x is None else full.get(format_level(x), x) for x in obj],
            index=frame.index, dtype=object,
        )
        levels = tuple(lv[:j] + (full.get(lv[j], lv[j]),) + lv[j + 1 :] for lv in levels)
    merged: dict[tuple[str, ...], float] = {}
    var2: dict[tuple[str, ...], float] = {}
    for i, lv in enumerate(levels):
        merged[lv] = merged.get(lv, 0.0) + float(mg.values[i])
        if mg.se is not None:
            var2[lv] = var2.get(lv, 0.0) + float(mg.se[i]) ** 2
    se = None if mg.se is None else np.sqrt(np.array([var2[k] for k in merged]))
    new = replace(mg, levels=tuple(merged), values=np.array(list(merged.values())), se=se)
    return frame, new, tuple(notes)


__all__ = ["poststratify", "solve_cells", "cell_factors", "collapse_levels", "ORDERED"]
