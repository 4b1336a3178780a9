"""What a method's cell-level solve returns, and the Step it makes on any path.

Every cell method (:func:`calib.weighting.rake.solve_cells`, ``poststratify.solve_cells``,
``calibrate.solve_cells``) solves a :class:`calib.weighting.problem.CellDesign` -- built from
rows in memory (:func:`~calib.weighting.problem.build`) or from a cell table grouped out of
core (:func:`~calib.weighting.problem.from_cells`) -- and returns a :class:`CellSolution`;
:meth:`CellSolution.step` turns it into the :class:`~calib.core.history.Step` the Sample or
FileSample records, so both paths record the same step.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from calib.core.history import Calibration, Step
from calib.weighting.problem import CellDesign


@dataclass(frozen=True)
class CellSolution:
    """A cell solve's factor ``g`` per cell with its trace and recorded options.

    Attributes
    ----------
    g : (n_cells,) output / input weight per cell.
    distance : the calibration distance recorded on the Calibration.
    options : the options recorded on the Step (what persistence replays).
    converged, iterations, max_error, history : the solver's trace.
    bounds : bounds on g (after any rescaling), ``(-inf, inf)`` when unbounded.
    notes : messages for the Step (rescaling, damped Newton, trimming, non-convergence).
    X : the auxiliary matrix when the solve built it (None: built on first access).

    Examples
    --------
    >>> import pandas as pd
    >>> from calib.core.cells import collapse, encode
    >>> from calib.core.targets import Targets
    >>> from calib.weighting.problem import from_cells
    >>> t = Targets.from_frame(pd.DataFrame({"variable": "x", "level": ["a", "b"],
    ...                                      "total": [3.0, 1.0]}))
    >>> cells, _ = collapse(encode(pd.DataFrame({"x": ["a", "b", "a"]}), ["x"],
    ...                            levels=t.levels()))
    >>> d = from_cells(cells, t)
    >>> step = CellSolution(g=np.array([1.5, 1.0]), distance="linear", options={}).step(
    ...     "poststratify", d)
    >>> step.method, step.calibration.g.tolist()
    ('poststratify', [1.5, 1.0])
    """

    g: np.ndarray
    distance: str
    options: Mapping[str, object]
    converged: bool = True
    iterations: int = 0
    max_error: float = 0.0
    history: tuple[float, ...] = ()
    bounds: tuple[float, float] = (-np.inf, np.inf)
    notes: tuple[str, ...] = ()
    X: np.ndarray | None = None

    def step(self, method: str, problem: CellDesign, *, notes: tuple[str, ...] = (),
             options: Mapping[str, object] | None = None) -> Step:
        """The Step of ``method``: calibration metadata on the problem's cells.

        ``notes`` come before the solve's own; ``options`` update the recorded ones.
        """
        totals, labels = problem.totals_labels()
        cal = Calibration(
            cells=problem.cells,
            row_cell=problem.row_cell,  # type: ignore[arg-type]  # None out of core
            # built on first access unless the solve built it (estimation needs it)
            auxiliary=problem.auxiliary if self.X is None else self.X,
            totals=totals,
            labels=labels,
            g=self.g,
            distance=self.distance,
            bounds=self.bounds,
            margin_index=problem.index,
        )
        return Step(
            method=method,
            options={**self.options, **(options or {})},
            converged=self.converged,
            iterations=self.iterations,
            max_error=self.max_error,
            history=self.history,
            targets=problem.targets,
            dropped=problem.dropped,
            calibration=cal,
            notes=tuple(notes) + self.notes,
        )


__all__ = ["CellSolution"]
