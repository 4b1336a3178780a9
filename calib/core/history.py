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

    def __repr__(self) -> str:
        # the dataclass repr would print every array (thousands of elements)
        lo, hi = self.bounds
        bounds = "" if np.isinf(lo) and np.isinf(hi) else f", bounds=({lo:g}, {hi:g})"
        return (f"<Calibration {self.distance}: {self.cells.n_cells} cells, "
                f"{len(self.labels)} auxiliaries{bounds}>")


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
    #: rows and Kish effective sample size after the step (set by ``Sample``; not compared)
    n: int | None = field(default=None, compare=False)
    ess: float | None = field(default=None, compare=False)

    def line(self) -> str:
        """The step on one line: method, key options, convergence, n and ESS.

        >>> Step("rake", {"tol": 1e-6, "max_iter": 100}, iterations=7, n=1000, ess=612.34).line()
        'rake(tol=1e-06, max_iter=100): converged in 7 iterations, n=1000, ESS=612.3'
        """
        opts = self.option_text()
        its = f"{self.iterations} iteration" + ("s" if self.iterations != 1 else "")
        state = (f"converged in {its}" if self.converged else
                 f"NOT converged after {its} "
                 f"(max error {self.max_error:.3g})")
        if self.iterations == 0 and self.converged:
            state = "done"
        tail = "".join([f", n={self.n}" if self.n is not None else "",
                        f", ESS={self.ess:.1f}" if self.ess is not None else ""])
        return f"{self.method}({opts}): {state}{tail}"

    def option_text(self, limit: int = 6) -> str:
        """The step's options as ``k=v`` text: the first ``limit`` that are set, values short.

        >>> Step("trim", {"upper": 5.0, "lower": None, "cap": list(range(9))}).option_text()
        'upper=5.0, cap=list[9]'
        """
        opts = [(k, v) for k, v in self.options.items() if v is not None]
        text = ", ".join(f"{k}={short(v)}" for k, v in opts[:limit])
        return text + (", ..." if len(opts) > limit else "")

    def __repr__(self) -> str:
        return f"<Step {self.line()}>"

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


class History(tuple):
    """A Sample's weighting steps (a tuple of :class:`Step`) that prints one line per step.

    >>> print(History((Step("rake", {"tol": 1e-6}, iterations=3, n=10, ess=8.0),
    ...                Step("trim", {"upper_mult": 5}, n=10, ess=8.5))))
    1. rake(tol=1e-06): converged in 3 iterations, n=10, ESS=8.0
    2. trim(upper_mult=5): done, n=10, ESS=8.5
    """

    __slots__ = ()

    def __repr__(self) -> str:
        if not self:
            return "(no weighting steps)"
        return "\n".join(f"{i + 1}. {st.line()}" for i, st in enumerate(self))

    __str__ = __repr__


def short(v: object) -> str:
    """A value in a few characters: numbers and short sequences as is, else a type and size.

    >>> short(0.1), short((0.5, 2.0)), short(list(range(100))), short("raking")
    ('0.1', '(0.5, 2.0)', 'list[100]', "'raking'")
    """
    if isinstance(v, np.generic):
        v = v.item()
    if v is None or isinstance(v, bool | int | float):
        return repr(v)
    if isinstance(v, str):
        return repr(v) if len(v) <= 30 else repr(v[:27] + "...")
    if isinstance(v, tuple | list) and len(v) <= 4 and all(
            isinstance(x, bool | int | float | str | np.generic) for x in v):
        return repr(type(v)(x.item() if isinstance(x, np.generic) else x for x in v))
    size = getattr(v, "shape", None) or (len(v) if hasattr(v, "__len__") else None)  # type: ignore[arg-type]
    return f"{type(v).__name__}{list(size) if isinstance(size, tuple) else [size] if size else ''}"


def _jsonable(v: object) -> object:
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, tuple | list):
        return [_jsonable(x) for x in v]
    if isinstance(v, int | float | str | bool) or v is None:
        return v
    return repr(v)
