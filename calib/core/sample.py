"""`Sample`: an immutable persona set (or survey) with base weights, current weights and history.

A Sample holds the row frame, the base (design) weights, the current weights, strata and
cluster columns, and the weighting history; each weighting method returns a new Sample.
Solvers never see rows: they see the cell table built by :mod:`calib.weighting.problem`.

Examples
--------
>>> import pandas as pd
>>> from calib import Sample, Targets
>>> df = pd.DataFrame({"sex": ["F"] * 3 + ["M"] * 7})
>>> t = Targets.from_frame(pd.DataFrame({"variable": "sex", "level": ["F", "M"],
...                                      "total": [50.0, 50.0]}))
>>> s = Sample(df).rake(t)
>>> s.weights.groupby(df["sex"]).sum().round(6).tolist()
[50.0, 50.0]
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from calib.core.entrypoints import load
from calib.core.errors import DataError
from calib.core.history import History
from calib.core.html import sample_html
from calib.core.util import kish_ess

if TYPE_CHECKING:
    from calib.core.history import Calibration, Step
    from calib.core.targets import Targets


def _rows(mask: np.ndarray) -> list[int]:
    """The first five rows where ``mask`` holds, numbered as data rows from 1 (the row after
    a file's header is row 1), as every calib message numbers rows."""
    return (np.flatnonzero(mask)[:5] + 1).tolist()


def check_weights(w: np.ndarray, name: str = "weight", index: pd.Index | None = None) -> np.ndarray:
    """Validate weights: finite, non-negative, not all zero. Returns a float array."""
    w = np.asarray(w, dtype=float)
    bad = ~np.isfinite(w)
    if bad.any():
        where = "" if index is None else f" (first rows: {_rows(bad)})"
        raise DataError(
            f"{name}: {int(bad.sum())} missing or infinite weights{where}; fix or drop those rows"
        )
    neg = w < 0
    if neg.any():
        where = "" if index is None else f" (first rows: {_rows(neg)})"
        raise DataError(f"{name}: {int(neg.sum())} negative weights{where}; weights must be >= 0")
    if w.size and not (w > 0).any():
        raise DataError(f"{name}: all weights are zero")
    return w


class Sample:
    """A sample of rows with base weights, current weights and weighting history.

    Parameters
    ----------
    frame : pandas.DataFrame of rows (personas or respondents).
    weight : base weights: a column name, an array/Series aligned to ``frame``, or None (ones).
    strata, cluster : optional column names of the design's strata and clusters (e.g. the
        generating model or prompt batch for persona sets).

    Examples
    --------
    >>> import pandas as pd
    >>> Sample(pd.DataFrame({"x": [1, 2]}), weight=[2.0, 3.0]).weights.tolist()
    [2.0, 3.0]
    """

    __slots__ = ("_frame", "_base", "_w", "_history", "strata", "cluster", "weight_name")

    def __init__(
        self,
        frame: pd.DataFrame,
        weight: str | Sequence[float] | np.ndarray | pd.Series | None = None,
        *,
        strata: str | None = None,
        cluster: str | None = None,
    ) -> None:
        if not isinstance(frame, pd.DataFrame):
            raise DataError(f"Sample needs a pandas DataFrame, got {type(frame).__name__}")
        if len(frame) == 0:
            raise DataError("the sample has no rows")
        self.weight_name = weight if isinstance(weight, str) else None
        if weight is None:
            base = np.ones(len(frame))
        elif isinstance(weight, str):
            if weight not in frame.columns:
                raise DataError(f"weight column {weight!r} is not in the data")
            base = pd.to_numeric(frame[weight], errors="coerce").to_numpy(dtype=float)
        else:
            base = np.asarray(weight, dtype=float)
            if base.shape != (len(frame),):
                raise DataError(f"weight has {base.size} values for {len(frame)} rows")
        base = check_weights(base, self.weight_name or "weight", frame.index)
        for col, what in ((strata, "strata"), (cluster, "cluster")):
            if col is not None and col not in frame.columns:
                raise DataError(f"{what} column {col!r} is not in the data")
        self._frame = frame
        self._base = base
        self._w = base
        self._history: tuple[Step, ...] = ()
        self.strata = strata
        self.cluster = cluster

    # -- construction of derived samples ------------------------------------------------
    def _derive(
        self, weights: np.ndarray, step: Step, keep: np.ndarray | None = None
    ) -> Sample:
        new = object.__new__(Sample)
        frame, base = self._frame, self._base
        if keep is not None and not keep.all():
            frame, base = frame[keep], base[keep]
        new._frame = frame
        new._base = base
        new._w = check_weights(weights, f"weights from {step.method}")
        w = new._w
        # rows and Kish ESS after the step, for the one-line history (History, _repr_html_)
        ess = kish_ess(w) if w.size else 0.0
        step = replace(step, n=int(w.size), ess=ess)
        new._history = self._history + (step,)
        new.strata = self.strata
        new.cluster = self.cluster
        new.weight_name = self.weight_name
        return new

    def with_weights(self, weights: np.ndarray, step: Step, keep: np.ndarray | None = None) -> Sample:
        """A new Sample with ``weights`` (rows of ``keep`` only) and ``step`` appended."""
        if keep is not None and not keep.all():
            n_drop = int((~keep).sum())
            warnings.warn(
                f"{step.method}: {n_drop} rows dropped for missing values in weighting variables "
                f"({dict(step.dropped)})",
                UserWarning,
                stacklevel=3,
            )
        return self._derive(np.asarray(weights, dtype=float), step, keep)

    # -- accessors ----------------------------------------------------------------------
    @property
    def frame(self) -> pd.DataFrame:
        """The rows (read-only by convention)."""
        return self._frame

    @property
    def n(self) -> int:
        return len(self._frame)

    def __len__(self) -> int:
        return self.n

    @property
    def weights(self) -> pd.Series:
        """Current weights aligned to the frame's index."""
        return pd.Series(self._w, index=self._frame.index, name="weight")

    @property
    def base_weights(self) -> pd.Series:
        """The base (design) weights the sample was built with."""
        return pd.Series(self._base, index=self._frame.index, name="base_weight")

    @property
    def weight_array(self) -> np.ndarray:
        return self._w

    @property
    def history(self) -> History:
        """The weighting steps, oldest first; prints one line per step."""
        return History(self._history)

    @property
    def method(self) -> str | None:
        return self._history[-1].method if self._history else None

    @property
    def calibrations(self) -> tuple[Calibration, ...]:
        """Calibration metadata of every calibration step, oldest first."""
        return tuple(s.calibration for s in self._history if s.calibration is not None)

    def __repr__(self) -> str:
        steps = " -> ".join(s.method for s in self._history) or "unweighted"
        head = f"<calib.Sample n={self.n} weights={steps} total={self._w.sum():.6g}>"
        return head if not self._history else head + "\n" + repr(self.history)

    def _repr_html_(self) -> str:
        """Notebook view: size, total, ESS and one table row per weighting step."""
        return sample_html(self)

    # -- weighting (dispatch to the registry) -------------------------------------------
    # The methods below call the layers above core through calib.core.entrypoints, resolved
    # by name at call time: core imports nothing above it (docs/design.md, Layout).
    def weight(self, method: str, targets: Any = None, **options: Any) -> Sample:
        """Apply a registered weighting method by name."""
        registry = load("weighting")
        fn = registry.get(method)
        k = registry.kind(method)
        if k == "none":
            return fn(self, **options)
        return fn(self, targets, **options)

    def poststratify(self, targets: Targets, **options: Any) -> Sample:
        """Poststratify to full joint cells (see :func:`calib.weighting.poststratify.poststratify`)."""
        return self.weight("poststratify", targets, **options)

    def rake(self, targets: Targets, **options: Any) -> Sample:
        """Rake (IPF on cells) to margins (see :func:`calib.weighting.rake.rake`)."""
        return self.weight("rake", targets, **options)

    def calibrate(self, targets: Targets, **options: Any) -> Sample:
        """Generalized calibration (see :func:`calib.weighting.calibrate.calibrate`)."""
        return self.weight("calibrate", targets, **options)

    def optimal(self, targets: Targets, **options: Any) -> Sample:
        """Convex calibration with cvxpy (see :func:`calib.weighting.optimal.optimal`)."""
        return self.weight("optimal", targets, **options)

    def propensity(self, reference: Any, **options: Any) -> Sample:
        """Importance weights against reference microdata (see :mod:`calib.weighting.propensity`)."""
        return self.weight("propensity", reference, **options)

    def trim(self, **options: Any) -> Sample:
        """Trim weights, keeping the total (see :func:`calib.weighting.trim.trim`)."""
        return self.weight("trim", None, **options)

    # -- downstream ---------------------------------------------------------------------
    def diagnostics(self, targets: Targets | None = None, **options: Any) -> Any:
        """Weight diagnostics (ESS, design effect, margins, ASMD); see :mod:`calib.weighting.diagnostics`."""
        return load("diagnostics")(self, targets, **options)

    def estimate(self, outcome: str, **options: Any) -> pd.DataFrame:
        """Weighted estimates with uncertainty; see :func:`calib.estimation.estimate`."""
        return load("estimate")(self, outcome, **options)
