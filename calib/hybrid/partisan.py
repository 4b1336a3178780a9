"""Partisan calibration: weight personas to political margins on top of demographics.

Pollsters weight to party identification and recalled past vote because those carry the
information demographics miss. Here the persona set is raked (or calibrated) jointly to the
demographic margins and to political margins (``pid3`` shares from a benchmark survey, the
recalled previous vote from **certified** results, :func:`recalled_vote_targets`).

What it fixes: the **composition** of the persona set on partisanship - too many
Democrat-identifying or Biden-recalling personas are weighted down. What it cannot fix: the
LLM answering differently from real people *within* a partisan cell (a persona that recalls a
Trump vote but that the LLM still makes lean Democratic); that response bias needs a human
benchmark (:func:`calib.hybrid.ppi_mean`, :func:`calib.hybrid.joint_mrp`).

Examples
--------
>>> import pandas as pd
>>> from calib.core.targets import Targets, margin
>>> df = pd.DataFrame({"sex": ["Female", "Male"] * 50,
...                    "pid3": ["Democrat"] * 60 + ["Republican"] * 40})
>>> demo = Targets((margin("sex", {"Female": 0.5, "Male": 0.5}, scale="share"),))
>>> pol = Targets((margin("pid3", {"Democrat": 0.45, "Republican": 0.55}, scale="share"),))
>>> s = partisan(df, demo, pol)
>>> s.weights.groupby(df["pid3"]).sum().div(s.weights.sum()).round(6).tolist()
[0.45, 0.55]
"""

from __future__ import annotations

from typing import Any

import numpy as np

from calib.core.errors import DataError, TargetError
from calib.core.sample import Sample
from calib.core.targets import Targets, margin
from calib.data.datasets import election_results, poststrat_frame

#: Recalled-vote variable per election year (levels in :mod:`calib.data.variables`).
VOTE_VARIABLE: dict[int, str] = {2016: "vote2016", 2020: "vote2020"}


def recalled_vote_targets(year: int = 2020, *, by: str | None = None,
                          variable: str | None = None) -> Targets:
    """Certified ``year`` presidential vote as shares of citizens 18+ (CVAP), nonvoters included.

    Levels Democrat, Republican, Other, Did not vote; "Did not vote" = CVAP minus ballots
    counted for president (CVAP from :func:`calib.data.datasets.poststrat_frame`; only the states
    of that frame count - it has 50, no DC - so the shares are those of its universe). ``by="state"``
    gives the joint margin ``state:<variable>`` as totals.

    Examples
    --------
    >>> t = recalled_vote_targets(2020)
    >>> m = t["vote2020"]
    >>> [round(float(x), 3) for x in m.values]
    [0.354, 0.325, 0.013, 0.308]
    """
    var = variable or VOTE_VARIABLE.get(year)
    if var is None:
        raise TargetError(f"recalled_vote_targets: no recalled-vote variable for {year}; pass "
                          f"variable= (known: {VOTE_VARIABLE})")
    res = election_results(year).set_index("state_po")
    cvap = poststrat_frame().groupby("state", observed=True)["n"].sum()
    cvap.index = cvap.index.astype(str)
    res = res.reindex(cvap.index)
    if res["total_votes"].isna().any():
        raise TargetError(f"recalled_vote_targets: no {year} result for states "
                          f"{list(res.index[res['total_votes'].isna()])}")
    non = cvap - res["total_votes"]
    if (non < 0).any():
        raise TargetError(f"recalled_vote_targets: more {year} votes than CVAP in "
                          f"{list(non.index[non < 0])}; the frame and results disagree")
    src = f"certified {year} presidential results; CVAP poststrat frame"
    cols = {"Democrat": res["dem_votes"], "Republican": res["rep_votes"],
            "Other": res["other_votes"], "Did not vote": non}
    if by is None:
        tot = {k: float(v.sum()) for k, v in cols.items()}
        s = sum(tot.values())
        m = margin(var, {k: v / s for k, v in tot.items()}, scale="share", source=src,
                   universe="citizens 18+")
        return Targets((m,), provenance={var: src})
    if by != "state":
        raise DataError(f"recalled_vote_targets: by={by!r}; only by='state' is supported")
    vals = {(st, k): float(v[st]) for k, v in cols.items() for st in cvap.index}
    m = margin((by, var), vals, scale="total", source=src, universe="citizens 18+")
    return Targets((m,), provenance={var: src})


def partisan(
    personas: Any,
    targets: Targets,
    political_targets: Targets,
    *,
    method: str = "rake",
    weight: Any = None,
    **options: Any,
) -> Sample:
    """Calibrate personas to demographic and political margins at once.

    Parameters
    ----------
    personas : :class:`calib.Sample` or DataFrame (then ``weight`` gives base weights).
    targets : demographic margins (census).
    political_targets : political margins, e.g. ``pid3`` shares and
        :func:`recalled_vote_targets`; the personas need those columns (harmonized levels).
    method : a registered weighting method taking targets (``"rake"``, ``"calibrate"``).
    options : passed to the method (``cap=``, ``bounds=``, ``population=`` ...).

    Returns
    -------
    Sample whose weights meet every margin; its last history step records the method.
    """
    sample = personas if isinstance(personas, Sample) else Sample(personas, weight=weight)
    if not political_targets.margins:
        raise TargetError("partisan: political_targets is empty; give pid3 / recalled-vote "
                          "margins (see recalled_vote_targets)")
    missing = [v for v in political_targets.variables if v not in sample.frame.columns]
    if missing:
        raise DataError(f"partisan: the personas lack political variables {missing}; ask the "
                        "LLM (or the persona card) for them and harmonize to calib.data.variables")
    clash = set(targets.names) & set(political_targets.names)
    if clash:
        raise TargetError(f"partisan: margins {sorted(clash)} are in both target sets; keep one")
    both = targets + political_targets
    if both.population is None and any(m.scale == "total" for m in both.margins):
        tot = [m.total for m in both.margins if m.scale == "total" and not m.numeric]
        if tot and "population" not in options:
            options["population"] = float(np.max(tot))
    return sample.weight(method, both, **options)


__all__ = ["partisan", "recalled_vote_targets", "VOTE_VARIABLE"]
