"""Weight trimming that keeps the total, as R survey's ``trimWeights``.

Weights above ``upper`` are set to ``upper`` (and below ``lower`` to ``lower``); the weight
trimmed off is spread over the untrimmed weights, so the total is unchanged. R spreads it in
equal parts (``redistribute="equal"``, the default, equal to R); ``"proportional"`` spreads it
in proportion to the untrimmed weights (keeping their ratios). With ``strict=True`` this is
repeated until no weight is outside the limits (R ``strict=TRUE``),
repeated exactly as R does (a weight clipped in one pass takes its share of later passes).

References: Potter (1990); Lumley (2010) *Complex Surveys*; R survey ``?trimWeights``.
"""

from __future__ import annotations

import numpy as np

from calib.core.errors import DataError, InfeasibleError
from calib.core.history import Step
from calib.core.sample import Sample


def trim(
    sample: Sample,
    *,
    upper: float | None = None,
    upper_mult: float | None = None,
    quantile: float | None = None,
    lower: float | None = None,
    lower_mult: float | None = None,
    strict: bool = True,
    redistribute: str = "equal",
) -> Sample:
    """Trim a sample's current weights to ``[lower, upper]`` keeping their total.

    Parameters
    ----------
    sample : the Sample; its current weights are trimmed.
    upper : absolute cap on a weight. Give at most one of ``upper``, ``upper_mult``
        (a multiple of the mean weight) and ``quantile`` (cap at that quantile of the weights,
        e.g. ``0.99``; numpy's default linear interpolation).
    lower, lower_mult : absolute floor, or a multiple of the mean weight (optional).
    strict : repeat until no weight is outside the limits (R ``strict=TRUE``); with False,
        one pass as R's default (the redistribution may push weights past a limit again).
    redistribute : ``"equal"`` (R: every untrimmed weight gets the same amount) or
        ``"proportional"`` (in proportion to the untrimmed weights).

    Returns
    -------
    Sample
        New sample with trimmed weights and the same total; ``history[-1].options`` holds the
        limits used, ``n_upper`` / ``n_lower`` (weights clipped at each limit in some pass;
        with both limits a weight clipped at ``upper`` may end a little below it, as in R)
        and ``n_trimmed``.

    Raises
    ------
    InfeasibleError
        When the limits cannot hold the total (``n * upper < total`` or ``n * lower > total``).

    Examples
    --------
    >>> import pandas as pd
    >>> from calib import Sample
    >>> s = Sample(pd.DataFrame({"x": range(5)}), weight=[1.0, 1.0, 1.0, 2.0, 10.0])
    >>> t = s.trim(upper=4.0)
    >>> t.weights.tolist(), t.history[-1].options["n_upper"]
    ([2.5, 2.5, 2.5, 3.5, 4.0], 1)
    >>> s.trim(upper=4.0, redistribute="proportional").weights.round(6).tolist()
    [2.333333, 2.333333, 2.333333, 4.0, 4.0]
    """
    w = sample.weight_array
    n = w.size
    mean = float(w.mean())
    if redistribute not in ("equal", "proportional"):
        raise DataError(f"trim: redistribute={redistribute!r}; use 'equal' or 'proportional'")
    lo, hi = _limits(w, upper=upper, upper_mult=upper_mult, quantile=quantile, lower=lower,
                     lower_mult=lower_mult)  # fmt: skip
    total = float(w.sum())
    if n * hi < total * (1 - 1e-12):
        raise InfeasibleError(
            f"trim: upper={hi:.6g} cannot hold the total weight {total:.6g} over {n} rows "
            f"(needs upper >= mean weight {mean:.6g}); raise the upper limit"
        )
    if n * lo > total * (1 + 1e-12):
        raise InfeasibleError(
            f"trim: lower={lo:.6g} exceeds the mean weight {mean:.6g}; lower the lower limit"
        )
    new, at_hi, at_lo, rounds = _trim(w, lo, hi, strict, redistribute)
    n_hi, n_lo, n_any = int(at_hi.sum()), int(at_lo.sum()), int((at_hi | at_lo).sum())
    step = Step(
        method="trim",
        options={"upper": hi, "lower": lo, "strict": strict, "redistribute": redistribute,
                 "n_upper": n_hi, "n_lower": n_lo, "n_trimmed": n_any},
        converged=True,
        iterations=rounds,
        max_error=abs(float(new.sum()) - total) / total,
        notes=(f"trim: {n_hi} weights capped at {hi:.6g} and {n_lo} raised to {lo:.6g} "
               f"in {rounds} passes, the difference spread {redistribute}ly over the weights "
               "inside the limits; total kept",),
    )
    return sample.with_weights(new, step)



def trim_replicates(W: np.ndarray, options: dict, start: int = 0) -> np.ndarray:
    """Replay a ``trim`` step on replicate weights ``W`` (k, n), in place, and return ``W``.

    Each replicate is trimmed to the step's limits (``options``: the ``upper`` / ``lower``
    stored by :func:`trim`, ``strict``, ``redistribute``) among its rows of positive weight:
    rows out of the replicate (a PSU the jackknife drops or the bootstrap does not draw) stay
    at 0. R trims each replicate too but its ``trimWeights.svyrep.design`` makes one pass and
    lifts those zeros to ``lower``; calib does what the full-sample trim did to each replicate.

    Examples
    --------
    >>> import numpy as np
    >>> W = np.array([[0.0, 1.0, 1.0, 10.0], [1.0, 1.0, 2.0, 0.0]])
    >>> trim_replicates(W, {"upper": 4.0, "lower": -np.inf, "strict": True,
    ...                     "redistribute": "equal"}).tolist()
    [[0.0, 4.0, 4.0, 4.0], [1.0, 1.0, 2.0, 0.0]]
    """
    lo, hi = float(options["lower"]), float(options["upper"])
    strict, how = bool(options["strict"]), str(options["redistribute"])
    for r in range(W.shape[0]):
        pos = W[r] > 0
        total = float(W[r, pos].sum())
        n = int(pos.sum())
        if n * hi < total * (1 - 1e-12) or n * lo > total * (1 + 1e-12):
            raise InfeasibleError(
                f"replicate {start + r + 1}: trim limits [{lo:.6g}, {hi:.6g}] cannot hold its "
                f"total weight {total:.6g} over {n} rows; widen the limits or use "
                "variance='linearization'")
        W[r, pos] = _trim(W[r, pos], lo, hi, strict, how)[0]
    return W


def _limits(
    w: np.ndarray,
    *,
    upper: float | None,
    upper_mult: float | None,
    quantile: float | None,
    lower: float | None,
    lower_mult: float | None,
) -> tuple[float, float]:
    """``(lo, hi)`` from the one upper and the one lower limit given (-inf / inf: none)."""
    mean = float(w.mean())
    given = [k for k, v in (("upper", upper), ("upper_mult", upper_mult),
                            ("quantile", quantile)) if v is not None]
    if len(given) > 1:
        raise DataError(f"trim: give one of upper, upper_mult, quantile (got {given})")
    if lower is not None and lower_mult is not None:
        raise DataError("trim: give one of lower, lower_mult")
    hi = np.inf
    if upper is not None:
        hi = float(upper)
    elif upper_mult is not None:
        hi = float(upper_mult) * mean
    elif quantile is not None:
        if not 0 < quantile <= 1:
            raise DataError(f"trim: quantile={quantile!r} must be in (0, 1], e.g. 0.99")
        hi = float(np.quantile(w, quantile))
    lo = -np.inf
    if lower is not None:
        lo = float(lower)
    elif lower_mult is not None:
        lo = float(lower_mult) * mean
    if np.isnan(hi) or np.isnan(lo) or not lo < hi:
        raise DataError(f"trim: the limits must satisfy lower < upper, got [{lo}, {hi}]")
    if not np.isfinite(hi) and not np.isfinite(lo):
        raise DataError("trim: give an upper limit (upper, upper_mult or quantile) or a lower one")
    return lo, hi


def _trim(
    w: np.ndarray, lo: float, hi: float, strict: bool, how: str, max_rounds: int = 100_000
) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """R trimWeights, one pass or (strict) repeated until no weight is outside the limits.

    Each pass clips the weights outside ``[lo, hi]`` and spreads the clipped amount over the
    weights inside (including ones clipped in earlier passes, exactly as R's recursion does).
    """
    new = np.array(w, dtype=float, copy=True)
    ever_hi = np.zeros(w.size, dtype=bool)
    ever_lo = np.zeros(w.size, dtype=bool)
    rounds = 0
    while rounds < max_rounds:
        outside = (new < lo) | (new > hi)
        if not outside.any():
            break
        rounds += 1
        ever_hi |= new > hi
        ever_lo |= new < lo
        clipped = np.clip(new, lo, hi)
        excess = float((new - clipped).sum())
        inside = ~outside
        if not inside.any():
            raise InfeasibleError(
                f"trim: every weight is outside the limits [{lo:.6g}, {hi:.6g}]; widen them"
            )
        if how == "equal":
            clipped[inside] += excess / inside.sum()
        else:
            clipped[inside] *= 1.0 + excess / float(clipped[inside].sum())
        new = clipped
        if not strict:
            break
    return new, ever_hi, ever_lo, rounds


__all__ = ["trim", "trim_replicates"]
