"""The harmonized variable scheme shared by every dataset, codebook and target.

One scheme so any sample can be weighted to any target. Where sources' bands do not nest,
the scheme keeps more than one granularity instead of splitting a band: ``age10`` (the ACS /
seed-persona bands) nests in ``age4`` but not in ``age6`` (the CVAP frame's decades); single-year
ages map to all three. See docs/variables.md for the crosswalk by source.

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
    "race4": ("White", "Black", "Hispanic", "Other"),
    "race7": (
        "White", "Black", "American Indian and Alaska Native", "Asian",
        "Native Hawaiian and Pacific Islander", "Two or more races", "Hispanic",
    ),  # fmt: skip
    "educ5": ("No HS", "HS", "Some college", "4-Year College", "Post-grad"),
    "educ3": ("HS or less", "Some college", "College degree"),
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
    "age4": "age in 4 bands nesting the ACS bands (18-29, 30-44, 45-64, 65+)",
    "age6": "age in the CVAP frame's decades (18-29, 30-39, ..., 70+)",
    "age10": "ACS 2023 / seed persona age bands",
    "race4": "race/ethnicity: White and Black non-Hispanic, Hispanic of any race, Other",
    "race7": "seed persona race groups (Hispanic of any race separate)",
    "educ5": "highest education, CVAP frame coding",
    "educ3": "education in 3 groups",
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
}  # fmt: skip

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
    """Single-year age (18+) to a band of ``scheme`` (``age4``, ``age6`` or ``age10``).

    Ages under 18 or missing give NaN (the caller decides what to do with them, loudly).
    """
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
    "collapse_map",
    "nests",
    "age_band",
]
