"""Benchmark surveys with their design weights, harmonized onto calib's variable scheme.

Each loader returns the original columns, plus the harmonized columns produced by the built-in
codebook (``calib/data/codebooks/<name>.toml``) as pandas Categoricals in
:data:`calib.data.variables.LEVELS` order, plus ``weight`` (a copy of the survey's design weight).
Missing, refused, "don't know" and out-of-scheme answers are NA (counts in each docstring);
no row is dropped. Harmonized variables a source cannot give without splitting one of its
bands are not produced (see each codebook's description and docs/variables.md).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from calib.data.datasets._files import read_table
from calib.data.datasets._harmonize import harmonize


def anes2020() -> pd.DataFrame:
    """ANES 2020 Time Series, respondents of both waves (7,453 rows), with design variables.

    Universe: US citizens 18+ (pre- and post-election completers), 2020. Source: srvyrexploR
    subset of the ANES 2020 full release (Feb 10 2022). Design: ``weight`` = ``V200010b``
    (post-election full-sample weight, sums to 7,453), ``VarUnit`` (PSU, ``V200010c``) and
    ``Stratum`` (``V200010d``); use them together for variance (Taylor linearization).

    Harmonized: ``age6``, ``age4`` (from single-year ``Age``, top-coded 80; 294 NA), ``sex``
    (51 NA), ``race4`` (81 NA), ``educ5`` (116 NA, incl. 90 "other" answers), ``pid7`` and
    ``pid3`` (25 NA), ``vote2016`` (recalled; 64 NA), ``vote2020`` (post-election; Did not
    vote = turnout summary ``V202109x`` 0; 180 NA). Not available: state, ideology, age10
    (the 80 top-code splits 75-84/85+), race7. Helper columns ``vote2016_source`` and
    ``vote2020_source`` hold the turnout + choice text the codebook recodes.

    Examples
    --------
    >>> a = anes2020()
    >>> len(a), round(float(a["weight"].sum()))
    (7453, 7453)
    >>> a["vote2020"].value_counts().to_dict()["Democrat"]
    3509
    """
    raw = read_table("anes/anes2020_srvyrexplor_subset.parquet")
    raw["weight"] = raw["V200010b"].astype(float)
    v16 = raw["VotedPres2016_selection"].astype(object)
    raw["vote2016_source"] = pd.Series(
        np.where(raw["VotedPres2016"] == "No", "Did not vote", v16), index=raw.index, dtype=object
    ).where(lambda s: s.notna() & (s.astype(str) != "nan"), None)
    choice = raw["V202110x"].map({1: "Biden", 2: "Trump", 3: "Other", 4: "Other", 5: "Other"})
    raw["vote2020_source"] = pd.Series(
        np.where(raw["V202109x"] == 0, "Did not vote", choice.astype(object)),
        index=raw.index, dtype=object,
    ).where(lambda s: s.notna() & (s.astype(str) != "nan"), None)
    frame, _ = harmonize("anes2020", raw)
    return frame


def cces2018() -> pd.DataFrame:
    """CCES 2018 Common Content, a random sample of 1,000 respondents (ccesMRPprep).

    Universe: US adults 18+ (YouGov online panel, matched and weighted), fall 2018. Weight:
    ``weight`` = ``commonweight`` (pre-election common weight); ``commonpostweight``,
    ``vvweight`` and ``vvweight_post`` are kept. The raw columns whose names are harmonized
    names are renamed ``state_raw``, ``pid3_raw``, ``pid7_raw``, ``ideo5_raw``; ``age``
    (= 2018 - ``birthyr``) and ``race_eth`` (3 = Hispanic when ``race`` = 3 or ``hispanic`` =
    1, else ``race``) are added for the codebook.

    Harmonized: ``state`` (from FIPS ``inputstate``, DC kept), ``region``, ``age6``, ``age4``,
    ``age10``, ``sex``, ``race4`` (Hispanic of any race, as in the census frame), ``educ5``
    (2-year degree in Some college), ``pid7`` / ``pid3`` ("Not sure" or blank -> NA, 34 rows),
    ``ideo5`` / ``ideo3`` ("Not sure" or blank -> NA, 80 rows), ``vote2016`` (``CC18_317``;
    blank or "don't recall" -> NA, 230 rows). No NA in state, region, age, sex, race4, educ5.

    Examples
    --------
    >>> c = cces2018()
    >>> len(c), int(c["state"].isna().sum()), int(c["age6"].isna().sum())
    (1000, 0, 0)
    """
    raw = read_table("surveys/cces2018_sample1000.csv")
    raw = raw.rename(columns={c: f"{c}_raw" for c in ("state", "pid3", "pid7", "ideo5")})
    raw["weight"] = raw["commonweight"].astype(float)
    raw["age"] = 2018 - raw["birthyr"]
    raw["race_eth"] = raw["race"].where(raw["hispanic"] != 1, 3)
    frame, _ = harmonize("cces2018", raw)
    return frame


def gss() -> pd.DataFrame:
    """General Social Survey 2018-2024 subsample (9,000 respondents: 2018, 2021, 2022, 2024).

    Universe: US adults 18+ in households. Weight: ``weight`` = ``wtssps`` (GSS
    post-stratification weight); the subsample seems filtered to complete party ID and
    ideology. ``race_eth`` (``"hispanic"`` when ``hispanic`` is not "not hispanic", else
    ``racecen1``) is added for the codebook.

    Harmonized: ``region``, ``age6``, ``age4``, ``age10`` (age 89 = 89 or older), ``sex``,
    ``race4``, ``pid7`` / ``pid3`` ("other party" -> NA, 253 rows), ``ideo3`` (from 7-point
    ``polviews``). Not produced: educ5 / educ3 (GSS ``degree`` "high school" includes some
    college without a degree), race7, ideo5, state, vote.

    Examples
    --------
    >>> g = gss()
    >>> w = g.groupby("ideo3", observed=True)["weight"].sum()
    >>> round(float(w["Moderate"] / w.sum() * 100), 1)
    36.3
    """
    raw = read_table("opinion/gss_2018_2024_subsample.parquet")
    raw["weight"] = raw["wtssps"].astype(float)
    hisp = raw["hispanic"].notna() & (raw["hispanic"] != "not hispanic")
    raw["race_eth"] = raw["racecen1"].astype(object).where(~hisp, "hispanic")
    frame, _ = harmonize("gss", raw)
    return frame


__all__ = ["anes2020", "cces2018", "gss"]
