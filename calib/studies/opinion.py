"""Opinion estimates against a benchmark distribution: alignment metrics.

The seed study scored persona answer distributions against human ones with Wasserstein-1 on
ordinal answer scales and total variation on nominal ones. Both take two distributions over the
same levels (shares; normalised here only after checking they are non-negative and sum > 0).

Examples
--------
>>> wasserstein1([0.5, 0.5, 0.0], [0.0, 0.5, 0.5])  # every unit moves one step
1.0
>>> total_variation([0.5, 0.5, 0.0], [0.0, 0.5, 0.5])
0.5
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from calib.core.errors import DataError


def _dist(p: Sequence[float] | np.ndarray, name: str) -> np.ndarray:
    a = np.asarray(p, dtype=float)
    if a.ndim != 1 or a.size == 0:
        raise DataError(f"{name}: give a 1-d distribution over the answer levels")
    if not np.isfinite(a).all() or (a < 0).any() or a.sum() <= 0:
        raise DataError(f"{name}: shares must be finite, >= 0 and not all zero")
    return a / a.sum()


def wasserstein1(p: Sequence[float] | np.ndarray, q: Sequence[float] | np.ndarray, *,
                 spacing: Sequence[float] | None = None) -> float:
    """Wasserstein-1 (earth mover's) distance between two distributions on an ordinal scale.

    Levels are equally spaced one unit apart unless ``spacing`` gives their positions.
    W1 = sum_k |F_p(k) - F_q(k)| * (x_{k+1} - x_k).
    """
    a, b = _dist(p, "p"), _dist(q, "q")
    if a.size != b.size:
        raise DataError(f"distributions have {a.size} and {b.size} levels; align them first")
    x = np.arange(a.size, dtype=float) if spacing is None else np.asarray(spacing, dtype=float)
    if x.size != a.size or (np.diff(x) <= 0).any():
        raise DataError("spacing must give one increasing position per level")
    return float(np.sum(np.abs(np.cumsum(a) - np.cumsum(b))[:-1] * np.diff(x)))


def total_variation(p: Sequence[float] | np.ndarray, q: Sequence[float] | np.ndarray) -> float:
    """Total variation distance ``0.5 * sum |p - q|`` between two nominal distributions."""
    a, b = _dist(p, "p"), _dist(q, "q")
    if a.size != b.size:
        raise DataError(f"distributions have {a.size} and {b.size} levels; align them first")
    return float(0.5 * np.abs(a - b).sum())


def alignment(
    estimates: pd.DataFrame,
    benchmark: pd.Series | dict,
    *,
    ordinal: bool,
    levels: Sequence[str] | None = None,
    group: str | None = None,
) -> pd.DataFrame:
    """Score estimated answer distributions against a benchmark distribution.

    Parameters
    ----------
    estimates : output of ``calib estimate`` for a categorical outcome (columns ``level`` and
        ``estimate``), optionally with a grouping column (e.g. ``persona_type``).
    benchmark : shares per level (Series or dict).
    ordinal : Wasserstein-1 when True (levels in scale order), total variation when False.
    levels : the level order (default: the benchmark's order).
    group : column of ``estimates`` to score separately (one row per group).

    Returns
    -------
    DataFrame with ``group`` (if any), ``metric`` and ``distance``.
    """
    bench = pd.Series(benchmark, dtype=float)
    order = list(levels) if levels is not None else [str(x) for x in bench.index]
    bench.index = bench.index.astype(str)
    lacking = [lv for lv in order if lv not in bench.index]
    if lacking:
        raise DataError(f"benchmark lacks levels {lacking}")
    metric = "wasserstein1" if ordinal else "total_variation"
    fn = wasserstein1 if ordinal else total_variation
    groups = [(None, estimates)] if group is None else list(estimates.groupby(group, sort=False))
    rows = []
    for g, df in groups:
        est = df.assign(level=df["level"].astype(str)).set_index("level")["estimate"]
        absent = [lv for lv in order if lv not in est.index]
        if absent:
            raise DataError(f"estimates{'' if g is None else f' for {group}={g!r}'} lack levels {absent}")
        d = fn(est.reindex(order).to_numpy(), bench.reindex(order).to_numpy())
        rows.append({**({group: g} if group else {}), "metric": metric, "distance": d})
    return pd.DataFrame(rows)


__all__ = ["wasserstein1", "total_variation", "alignment"]
