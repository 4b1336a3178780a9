"""Synthetic benchmark data: a skewed sample of n rows over six categorical variables.

The variables have 51, 6, 2, 5, 4 and 3 levels (state, age6, sex, educ5, race4, pid3 of
:mod:`calib.data.variables`). The sample is drawn with a selection bias (a skew on every variable),
and the targets are population margins that differ from the sample's shares, so raking has real
work to do. Everything is seeded: the same ``n`` and ``seed`` give the same rows and targets.

Examples
--------
>>> df, tgt = make_sample(2_000, seed=1)
>>> df.shape, sorted(tgt)[:2]
((2000, 6), ['age6', 'educ5'])
>>> round(sum(tgt["sex"].values()), 6)
1.0
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from calib.data.variables import LEVELS

#: The benchmark's variables, in order, with their level counts 51, 6, 2, 5, 4, 3.
VARIABLES: tuple[str, ...] = ("state", "age6", "sex", "educ5", "race4", "pid3")


def _skewed(rng: np.random.Generator, k: int, strength: float) -> np.ndarray:
    p = rng.dirichlet(np.full(k, 2.0)) * np.exp(strength * np.linspace(-1, 1, k))
    return p / p.sum()


def make_sample(
    n: int, seed: int = 2024, categorical: bool = True
) -> tuple[pd.DataFrame, dict[str, dict[str, float]]]:
    """A skewed sample of ``n`` rows and population shares per variable.

    Parameters
    ----------
    n : number of rows.
    seed : random seed.
    categorical : columns as pandas ``category`` (True) or plain string columns (False).

    Returns
    -------
    (frame, shares) with ``shares[variable][level]`` the population share of each level.
    """
    rng = np.random.default_rng(seed)
    data = {}
    shares: dict[str, dict[str, float]] = {}
    probs = {}
    for v in VARIABLES:  # every share first: the targets do not depend on n
        k = len(LEVELS[v])
        pop = _skewed(rng, k, 0.0)
        samp = _skewed(rng, k, 1.0) * 0.4 + pop * 0.6
        probs[v] = (pop, samp / samp.sum())
    for v in VARIABLES:
        levels = list(LEVELS[v])
        k = len(levels)
        pop, samp = probs[v]
        codes = rng.choice(k, size=n, p=samp).astype(np.int8)
        col = pd.Categorical.from_codes(codes, categories=levels)
        data[v] = (
            col if categorical else pd.array(np.asarray(levels, dtype=object)[codes], dtype="str")
        )
        shares[v] = dict(zip(levels, pop.tolist(), strict=True))
    return pd.DataFrame(data), shares


def targets_frame(shares: dict[str, dict[str, float]]) -> pd.DataFrame:
    """The shares in calib's long target format (``variable, level, share``)."""
    rows = [(v, lv, s) for v, d in shares.items() for lv, s in d.items()]
    return pd.DataFrame(rows, columns=["variable", "level", "share"])


__all__ = ["VARIABLES", "make_sample", "targets_frame"]
