"""The harmonized variable scheme shared by every dataset, codebook and target.

One scheme so any sample can be weighted to any target. Where sources' bands do not nest,
the scheme keeps more than one granularity instead of splitting a band: ``age10`` (the Tianyi-Lab
meta-persona bands) nests in ``age4`` but not in ``age6`` (the CVAP frame's decades);
``age_acs`` (the ACS 2023 DP05 bands of the seed pipeline's personas) nests in neither; single-year
ages map to every age scheme (:func:`age_band`). ``educ7`` (the ACS DP02 levels, with ``Under 25``
for adults outside the 25+ universe) collapses to ``educ6`` (``educ5`` plus ``Under 25``). See
docs/variables.md for the crosswalk by source.

Examples
--------
>>> LEVELS["age4"]
('18-29', '30-44', '45-64', '65+')
>>> collapse_map("age10", "age4")["35-44"]
'30-44'
>>> age_band(37, "age6"), age_band(37, "age4")
('30-39', '30-44')
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from calib.core.errors import UnmappedLevelError

STATES: tuple[str, ...] = (
    "AL", "AK", "AZ", "AR", "CA", "CO", "CT", "DE", "DC", "FL", "GA", "HI", "ID", "IL", "IN",
    "IA", "KS", "KY", "LA", "ME", "MD", "MA", "MI", "MN", "MS", "MO", "MT", "NE", "NV", "NH",
    "NJ", "NM", "NY", "NC", "ND", "OH", "OK", "OR", "PA", "RI", "SC", "SD", "TN", "TX", "UT",
    "VT", "VA", "WA", "WV", "WI", "WY",
)  # fmt: skip

#: Census regions (the MRP Case Studies call the Midwest "North Central").
REGION_OF_STATE: dict[str, str] = {
    **dict.fromkeys(("CT", "ME", "MA", "NH", "RI", "VT", "NJ", "NY", "PA"), "Northeast"),
    **dict.fromkeys(
        ("IL", "IN", "MI", "OH", "WI", "IA", "KS", "MN", "MO", "NE", "ND", "SD"), "Midwest"
    ),
    **dict.fromkeys(
        ("DE", "DC", "FL", "GA", "MD", "NC", "SC", "VA", "WV", "AL", "KY", "MS", "TN", "AR",
         "LA", "OK", "TX"), "South"
    ),  # fmt: skip
    **dict.fromkeys(
        ("AZ", "CO", "ID", "MT", "NV", "NM", "UT", "WY", "AK", "CA", "HI", "OR", "WA"), "West"
    ),
}

#: Harmonized variables and their levels, in order.
LEVELS: dict[str, tuple[str, ...]] = {
    "state": STATES,
    "region": ("Northeast", "Midwest", "South", "West"),
    "sex": ("Female", "Male"),
    "age4": ("18-29", "30-44", "45-64", "65+"),
    "age6": ("18-29", "30-39", "40-49", "50-59", "60-69", "70+"),
    "age10": (
        "18-19", "20-24", "25-29", "30-34", "35-44", "45-54", "55-64", "65-74", "75-84", "85+"
    ),
    "age_acs": (
        "18-19", "20-24", "25-34", "35-44", "45-54", "55-59", "60-64", "65-74", "75-84", "85+"
    ),
    "race4": ("White", "Black", "Hispanic", "Other"),
    "race7": (
        "White", "Black", "American Indian and Alaska Native", "Asian",
        "Native Hawaiian and Pacific Islander", "Two or more races", "Hispanic",
    ),  # fmt: skip
    "educ5": ("No HS", "HS", "Some college", "4-Year College", "Post-grad"),
    "educ3": ("HS or less", "Some college", "College degree"),
    "educ7": (
        "Less than 9th grade", "9th to 12th grade, no diploma", "High school graduate",
        "Some college, no degree", "Associate's degree", "Bachelor's degree",
        "Graduate or professional degree", "Under 25",
    ),  # fmt: skip
    "educ6": ("No HS", "HS", "Some college", "4-Year College", "Post-grad", "Under 25"),
    "citizen": ("Citizen", "Not a citizen"),
    "income10": (
        "Less than $10,000", "$10,000 to $14,999", "$15,000 to $24,999", "$25,000 to $34,999",
        "$35,000 to $49,999", "$50,000 to $74,999", "$75,000 to $99,999",
        "$100,000 to $149,999", "$150,000 to $199,999", "$200,000 or more",
    ),  # fmt: skip
    "language5": (
        "English only", "Spanish", "Other Indo-European languages",
        "Asian and Pacific Islander languages", "Other languages",
    ),  # fmt: skip
    "pid3": ("Democrat", "Independent", "Republican"),
    "pid7": (
        "Strong Democrat", "Not very strong Democrat", "Independent-Democrat", "Independent",
        "Independent-Republican", "Not very strong Republican", "Strong Republican",
    ),  # fmt: skip
    "ideo5": ("Very liberal", "Liberal", "Moderate", "Conservative", "Very conservative"),
    "ideo3": ("Liberal", "Moderate", "Conservative"),
    "vote2016": ("Democrat", "Republican", "Other", "Did not vote"),
    "vote2020": ("Democrat", "Republican", "Other", "Did not vote"),
}

DESCRIPTIONS: dict[str, str] = {
    "state": "USPS code, 50 states and DC",
    "region": "Census region of the state",
    "sex": "sex (Female / Male)",
    "age4": "age in 4 bands nesting the age10 bands (18-29, 30-44, 45-64, 65+)",
    "age6": "age in the CVAP frame's decades (18-29, 30-39, ..., 70+)",
    "age10": "Tianyi-Lab meta-persona age bands (25-29 / 30-34 split, 55-64 joined)",
    "age_acs": "ACS 2023 DP05 age bands of adults (18-19 = 18+ minus the bands from 20 up)",
    "race4": "race/ethnicity: White and Black non-Hispanic, Hispanic of any race, Other",
    "race7": (
        "seed persona race groups: non-Hispanic single races, Hispanic of any race; non-Hispanic "
        "Some Other Race alone and every multi-race group are 'Two or more races'"
    ),
    "educ5": "highest education, CVAP frame coding",
    "educ3": "education in 3 groups",
    "educ7": (
        "ACS DP02 educational attainment (population 25+); adults 18-24 are 'Under 25'"
    ),
    "educ6": "educ5 plus 'Under 25' (collapse of educ7)",
    "citizen": "US citizenship (ACS DP05 citizens 18+; the rest of the adults are not citizens)",
    "income10": "ACS DP03 household income brackets (2023 dollars)",
    "language5": "ACS DP02 language spoken at home (population 5+)",
    "pid3": "party identification, leaners counted as Independent",
    "pid7": "7-point party identification",
    "ideo5": "5-point ideology",
    "ideo3": "3-point ideology",
    "vote2016": "recalled 2016 presidential vote (adults; Did not vote included)",
    "vote2020": "recalled 2020 presidential vote",
}

_AGE_EDGES = {
    "age4": [(18, 29), (30, 44), (45, 64), (65, 200)],
    "age6": [(18, 29), (30, 39), (40, 49), (50, 59), (60, 69), (70, 200)],
    "age10": [(18, 19), (20, 24), (25, 29), (30, 34), (35, 44), (45, 54), (55, 64), (65, 74),
              (75, 84), (85, 200)],
    "age_acs": [(18, 19), (20, 24), (25, 34), (35, 44), (45, 54), (55, 59), (60, 64), (65, 74),
                (75, 84), (85, 200)],
}  # fmt: skip

#: Age schemes (single-year ages reach each of them through :func:`age_band`).
AGE_SCHEMES: tuple[str, ...] = tuple(_AGE_EDGES)

#: Coarsening maps: (finer, coarser) -> {fine level: coarse level}.
COLLAPSE: dict[tuple[str, str], dict[str, str]] = {
    ("age10", "age4"): {
        "18-19": "18-29", "20-24": "18-29", "25-29": "18-29", "30-34": "30-44",
        "35-44": "30-44", "45-54": "45-64", "55-64": "45-64", "65-74": "65+", "75-84": "65+",
        "85+": "65+",
    },  # fmt: skip
    ("race7", "race4"): {
        "White": "White", "Black": "Black", "Hispanic": "Hispanic",
        "American Indian and Alaska Native": "Other", "Asian": "Other",
        "Native Hawaiian and Pacific Islander": "Other", "Two or more races": "Other",
    },  # fmt: skip
    ("educ7", "educ6"): {
        "Less than 9th grade": "No HS", "9th to 12th grade, no diploma": "No HS",
        "High school graduate": "HS", "Some college, no degree": "Some college",
        "Associate's degree": "Some college", "Bachelor's degree": "4-Year College",
        "Graduate or professional degree": "Post-grad", "Under 25": "Under 25",
    },  # fmt: skip
    ("educ5", "educ3"): {
        "No HS": "HS or less", "HS": "HS or less", "Some college": "Some college",
        "4-Year College": "College degree", "Post-grad": "College degree",
    },  # fmt: skip
    ("pid7", "pid3"): {
        "Strong Democrat": "Democrat", "Not very strong Democrat": "Democrat",
        "Independent-Democrat": "Independent", "Independent": "Independent",
        "Independent-Republican": "Independent", "Not very strong Republican": "Republican",
        "Strong Republican": "Republican",
    },  # fmt: skip
    ("ideo5", "ideo3"): {
        "Very liberal": "Liberal", "Liberal": "Liberal", "Moderate": "Moderate",
        "Conservative": "Conservative", "Very conservative": "Conservative",
    },  # fmt: skip
    ("state", "region"): dict(REGION_OF_STATE),
}


def _band_of(lo: int, hi: int, scheme: str) -> str | None:
    for (a, b), lab in zip(_AGE_EDGES[scheme], LEVELS[scheme], strict=True):
        if a <= lo and hi <= b:
            return lab
    return None


def _age_nests(finer: str, coarser: str) -> bool:
    return all(_band_of(*_age_span(lab), coarser) is not None for lab in LEVELS[finer])


def _age_span(label: str) -> tuple[int, int]:
    if label.endswith("+"):
        return int(label[:-1]), 200
    a, b = label.split("-")
    return int(a), int(b)


def collapse_map(finer: str, coarser: str) -> dict[str, str]:
    """The map from levels of ``finer`` onto ``coarser``.

    Raises :class:`~calib.core.errors.UnmappedLevelError` when a band of ``finer`` would be split,
    naming the schemes it does nest in.

    >>> collapse_map("age10", "age6")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    calib.core.errors.UnmappedLevelError: cannot recode 'age10' onto 'age6': band '35-44' ...
    """
    if (finer, coarser) in COLLAPSE:
        return dict(COLLAPSE[(finer, coarser)])
    if finer == coarser:
        return {lv: lv for lv in LEVELS[finer]}
    if finer in _AGE_EDGES and coarser in _AGE_EDGES:
        out: dict[str, str] = {}
        for lab in LEVELS[finer]:
            band = _band_of(*_age_span(lab), coarser)
            if band is None:
                fits = [s for s in _AGE_EDGES if s != finer and _age_nests(finer, s)]
                raise UnmappedLevelError(
                    f"cannot recode {finer!r} onto {coarser!r}: band {lab!r} would be split "
                    f"across {coarser} bands. {finer!r} nests in {fits or 'no other scheme'}; "
                    f"recode from single-year age to reach {coarser!r}",
                    {finer: [lab]},
                )
            out[lab] = band
        return out
    raise UnmappedLevelError(
        f"no crosswalk from {finer!r} to {coarser!r}; known: "
        + ", ".join(f"{a}->{b}" for a, b in COLLAPSE)
    )


def nests(finer: str, coarser: str) -> bool:
    """Whether every level of ``finer`` lies inside one level of ``coarser``."""
    try:
        collapse_map(finer, coarser)
    except UnmappedLevelError:
        return False
    return True


def age_band(age: float | int | np.ndarray | pd.Series, scheme: str = "age6") -> object:
    """Single-year age (18+) to a band of ``scheme`` (any of :data:`AGE_SCHEMES`).

    Ages under 18 or missing give NaN (the caller decides what to do with them, loudly).

    >>> age_band(19, "age_acs"), age_band(57, "age_acs"), age_band(57, "age10")
    ('18-19', '55-59', '55-64')
    >>> list(age_band(pd.Series([30, 17]), "age_acs"))
    ['25-34', nan]
    """
    if scheme not in _AGE_EDGES:
        raise UnmappedLevelError(
            f"age_band: {scheme!r} is not an age scheme; use one of {list(_AGE_EDGES)}",
            {"scheme": [scheme]},
        )
    edges = _AGE_EDGES[scheme]
    labels = LEVELS[scheme]
    arr = np.asarray(age, dtype=float)
    out = np.full(arr.shape, None, dtype=object)
    for (a, b), lab in zip(edges, labels, strict=True):
        out[(arr >= a) & (arr < b + 1)] = lab
    if np.ndim(age) == 0:
        return out.item() if out.item() is not None else np.nan
    res = pd.Series(out, index=age.index if isinstance(age, pd.Series) else None, dtype=object)
    return pd.Categorical(res, categories=list(labels))


__all__ = [
    "STATES",
    "REGION_OF_STATE",
    "LEVELS",
    "DESCRIPTIONS",
    "COLLAPSE",
    "AGE_SCHEMES",
    "collapse_map",
    "nests",
    "age_band",
]
