"""The sampling design seen by variance estimation: strata, primary sampling units (PSUs).

Strata and clusters come from ``Sample(strata=, cluster=)``; without a cluster every row is its
own PSU. Variances use the with-replacement (ultimate cluster) approximation, as R survey's
``svydesign`` without ``fpc``:

``V = sum_h n_h / (n_h - 1) * sum_i (x_hi - mean_h x)^2``

where ``x_hi`` is the total of the influence values over PSU ``i`` of stratum ``h``. A stratum
with a single PSU is an error unless ``lonely`` says how to treat it, as R's
``options(survey.lonely.psu=)``: ``"certainty"`` and ``"remove"`` (it adds nothing),
``"adjust"`` (R survey >= 4.4: its PSU total is centred at the grand mean of all PSU totals
instead of its own mean) or ``"adjust-zero"`` (R survey <= 4.3: centred at zero). For a mean
the influence values sum to zero, so both adjustments agree; for a total they differ.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from calib.core.cells import format_level, missing_mask
from calib.core.errors import DataError
from calib.core.literals import LONELY_RULES, LonelyRule
from calib.core.sample import Sample

#: ``lonely`` options: ``adjust`` is R survey >= 4.4's rule, ``adjust-zero`` R <= 4.3's
#: (a ``str`` checked against them is a :data:`LonelyRule`)
LONELY: tuple[LonelyRule, ...] = LONELY_RULES
Lonely = LonelyRule


@dataclass(frozen=True)
class PSUDesign:
    """Strata and PSUs of a sample's rows.

    Attributes
    ----------
    psu : (n,) PSU code of every row (codes are unique across strata).
    stratum_of_psu : (n_psu,) stratum code of every PSU.
    n_psu : PSUs per stratum.
    strata_labels : level text of each stratum.
    lonely : how single-PSU strata are treated.
    """

    psu: np.ndarray
    stratum_of_psu: np.ndarray
    n_psu: np.ndarray
    strata_labels: tuple[str, ...]
    lonely: LonelyRule

    @property
    def n_psus(self) -> int:
        return int(self.stratum_of_psu.size)

    def variance(self, x: np.ndarray) -> np.ndarray:
        """With-replacement variance of the total of each column of ``x`` (rows x k).

        Examples
        --------
        >>> import numpy as np
        >>> d = PSUDesign(np.arange(4), np.zeros(4, dtype=int), np.array([4]), ("",), "error")
        >>> float(d.variance(np.array([[1.0], [2.0], [3.0], [4.0]]))[0])
        6.666666666666667
        """
        x = np.asarray(x, dtype=float)
        if x.ndim == 1:
            x = x[:, None]
        k = x.shape[1]
        tot = np.zeros((self.n_psus, k))
        for j in range(k):
            tot[:, j] = np.bincount(self.psu, weights=x[:, j], minlength=self.n_psus)
        h = self.stratum_of_psu
        nh = self.n_psu[h].astype(float)
        means = np.zeros((self.n_psu.size, k))
        for j in range(k):
            means[:, j] = np.bincount(h, weights=tot[:, j], minlength=self.n_psu.size)
        means /= np.maximum(self.n_psu, 1)[:, None]
        lonely = nh == 1
        centred = tot - means[h]
        scale = np.where(lonely, 1.0, nh / np.maximum(nh - 1.0, 1.0))
        if lonely.any():
            if self.lonely == "adjust":  # R >= 4.4: the grand mean of all PSU totals
                centred[lonely] = tot[lonely] - tot.mean(axis=0)[None, :]
            elif self.lonely == "adjust-zero":  # R <= 4.3: centred at zero
                centred[lonely] = tot[lonely]
            else:  # certainty / remove: no contribution
                centred[lonely] = 0.0
        return (scale[:, None] * centred**2).sum(axis=0)


def psu_design(sample: Sample, lonely: Lonely = "error") -> PSUDesign:
    """Strata and PSUs of ``sample`` (``Sample(strata=, cluster=)``).

    Clusters are nested within strata (a cluster label reused in two strata is two PSUs, as
    R's ``nest=TRUE``).

    Raises
    ------
    DataError
        Missing strata or cluster values, an unknown ``lonely`` option, or a stratum with a
        single PSU when ``lonely="error"``.

    Examples
    --------
    >>> import pandas as pd
    >>> from calib import Sample
    >>> df = pd.DataFrame({"st": ["a", "a", "b", "b"], "cl": [1, 2, 3, 3]})
    >>> d = psu_design(Sample(df, strata="st", cluster="cl"), lonely="certainty")
    >>> d.n_psu.tolist(), d.psu.tolist()
    ([2, 1], [0, 1, 2, 2])
    """
    if lonely not in LONELY:
        raise DataError(f"lonely={lonely!r}: choose one of {LONELY}")
    frame = sample.frame
    n = len(frame)
    if sample.strata is not None:
        st_codes, st_labels = _codes(frame[sample.strata], "strata", sample.strata)
    else:
        st_codes, st_labels = np.zeros(n, dtype=np.int64), ("",)
    if sample.cluster is not None:
        cl_codes, _ = _codes(frame[sample.cluster], "cluster", sample.cluster)
        pair = st_codes * (int(cl_codes.max()) + 1) + cl_codes
        _, psu = np.unique(pair, return_inverse=True)
    else:
        psu = np.arange(n)
    psu = psu.ravel().astype(np.int64)
    n_psus = int(psu.max()) + 1
    stratum_of_psu = np.zeros(n_psus, dtype=np.int64)
    stratum_of_psu[psu] = st_codes
    n_psu = np.bincount(stratum_of_psu, minlength=len(st_labels))
    single = np.flatnonzero(n_psu == 1)
    if single.size and lonely == "error":
        names = [st_labels[i] for i in single[:10]]
        raise DataError(
            f"strata {sample.strata!r}: stratum {names} has a single PSU (cluster "
            f"{sample.cluster!r}), so its variance cannot be estimated; merge it with a "
            "neighbouring stratum, or pass lonely='adjust', 'adjust-zero', 'certainty' or "
            "'remove' (as R's options(survey.lonely.psu=))"
        )
    return PSUDesign(psu, stratum_of_psu, n_psu, st_labels, lonely)


def _codes(col: pd.Series, what: str, name: str) -> tuple[np.ndarray, tuple[str, ...]]:
    miss = missing_mask(col)
    if miss.any():
        raise DataError(
            f"{what} column {name!r}: {int(miss.sum())} missing values (first rows: "
            f"{(np.flatnonzero(miss)[:5] + 1).tolist()}, numbered from 1); give every row its "
            f"{what}"
        )
    labels = np.array([format_level(v) for v in col.to_numpy(dtype=object)], dtype=object)
    uniq, codes = np.unique(labels, return_inverse=True)
    return codes.ravel().astype(np.int64), tuple(str(u) for u in uniq)
