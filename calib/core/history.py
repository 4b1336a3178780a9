"""What a weighting step leaves on the Sample: the step record and calibration metadata.

Estimation needs the calibration metadata later (auxiliaries on cells, g-weights), the way
R survey keeps ``postStrata`` / ``calibration`` with the design.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np

from calib.core.cells import CellTable
from calib.core.targets import Targets


@dataclass(frozen=True)
class Calibration:
    """Calibration metadata of one weighting step, on cells.

    Attributes
    ----------
    cells : the cell table the step solved on (``cells.weight`` = input weights per cell).
    row_cell : cell of every row of the sample *after* the step.
    auxiliary : the (n_cells, p) auxiliary matrix on cells (indicator columns of every margin
        entry, then numeric auxiliaries), the model matrix of the calibration regression, or a
        zero-argument callable that builds it; read it as :attr:`X`.
    totals : (p,) population totals of the columns of ``X``.
    labels : one ``(margin name, level text)`` per column of ``X``.
    g : (n_cells,) adjustment factor per cell (output weight / input weight).
    distance : the calibration distance (``linear``, ``raking``, ``logit``, ``truncated``;
        ``raking`` for IPF, ``linear`` for poststratification).
    bounds : bounds on g, ``(-inf, inf)`` when unbounded.
    """

    cells: CellTable
    row_cell: np.ndarray
    auxiliary: np.ndarray | Callable[[], np.ndarray] = field(repr=False)
    totals: np.ndarray
    labels: tuple[tuple[str, str], ...]
    g: np.ndarray
    distance: str  # a DistanceName, or the name of a user's own Distance
    bounds: tuple[float, float] = (-np.inf, np.inf)
    margin_index: tuple[np.ndarray, ...] = ()

    @cached_property
    def X(self) -> np.ndarray:
        """The (n_cells, p) auxiliary matrix, built on first access when :attr:`auxiliary` is
        a callable (raking never needs the dense matrix; estimation does)."""
        # cached_property stores the array in the instance __dict__, which a frozen dataclass
        # allows (only attribute assignment is refused); the fields never change
        return self.auxiliary() if callable(self.auxiliary) else self.auxiliary


@dataclass(frozen=True)
class Step:
    """One weighting step in a Sample's history."""

    method: str
    options: Mapping[str, Any]  # the method's keyword arguments (read back on replay)
    converged: bool = True
    iterations: int = 0
    max_error: float = 0.0
    history: tuple[float, ...] = ()
    targets: Targets | None = None
    dropped: Mapping[str, int] = field(default_factory=dict)
    calibration: Calibration | None = None
    notes: tuple[str, ...] = ()

    def summary(self) -> dict:
        """A JSON-friendly summary of the step."""
        return {
            "method": self.method,
            "options": {k: _jsonable(v) for k, v in self.options.items()},
            "converged": bool(self.converged),
            "iterations": int(self.iterations),
            "max_error": float(self.max_error),
            "dropped": dict(self.dropped),
            "notes": list(self.notes),
        }


def _jsonable(v: object) -> object:
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, tuple | list):
        return [_jsonable(x) for x in v]
    if isinstance(v, int | float | str | bool) or v is None:
        return v
    return repr(v)
