"""ACS 2023 1-year state Data Profiles (DP05, DP02, DP03) as harmonized adult targets.

The shipped long file ``census/acs2023_1yr_state_profiles_dp02_dp03_dp05_long.csv`` holds the
profiles the seed pipeline drew its personas from (50 states, no DC). :func:`acs2023_counts`
reads the rows each harmonized variable needs and puts every variable on one scale, **adults
18+ of the state** (DP05 "18 years and over"), so that margins of different variables agree on
the total they rake to; :func:`acs2023_targets` turns those counts into
:class:`~calib.core.targets.Targets`.

Each variable keeps the universe its table counts (column ``universe``; ``Margin.universe`` and
the ``universe`` column of an exported targets file):

========== ================================================================ ================
variable   rows                                                             scaled to 18+
========== ================================================================ ================
sex        DP05 18 years and over, Male / Female                            exact
age_acs    DP05 age bands 20-24 ... 85+; 18-19 = 18+ minus those bands      exact
citizen    DP05 citizens 18+ (CVAP); Not a citizen = 18+ minus CVAP         exact
educ7      DP02 population 25+ by attainment; Under 25 = DP05 18-19 + 20-24 25+ levels scaled
race7      DP05 Hispanic or Latino and race, total population (all ages)    shares scaled
income10   DP03 household income, households                                shares scaled
language5  DP02 language spoken at home, population 5+                      shares scaled
educ5      DP02 population 25+ (every adult given the 25+ distribution)     shares scaled
========== ================================================================ ================

"Shares scaled": the variable's distribution in its own universe times the state's adults, an
approximation (e.g. children are more Hispanic and more multiracial than adults, so race7 overstates
those groups among adults; household income is not an adult's income). The 25+ levels of educ7
are DP02's counts times (DP05 25+ = 18+ minus 18-24) / DP02's 25+ count; the two 25+ counts are
equal in every state of the 2023 profiles, so this changes nothing today.

Examples
--------
>>> c = acs2023_counts(["sex", "age_acs"], states=["VT"])
>>> int(c.loc[c["variable"] == "sex", "total"].sum()) == int(c.loc[c["variable"] == "age_acs",
...     "total"].sum()) == 532_638
True
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

import numpy as np
import pandas as pd

from calib.core.errors import TargetError, UnmappedLevelError
from calib.core.targets import Margin, Targets
from calib.data.datasets._files import read_table
from calib.data.variables import AGE_SCHEMES, LEVELS, REGION_OF_STATE, STATES, collapse_map

PROFILES = "census/acs2023_1yr_state_profiles_dp02_dp03_dp05_long.csv"
SOURCE = "ACS 2023 1-year Data Profiles DP05/DP02/DP03, by state"
POPULATION = "adults 18+ (DP05 18 years and over)"

_DP05_AGE = "Estimate!!SEX AND AGE!!Total population!!"
_HISP = "Estimate!!HISPANIC OR LATINO AND RACE!!Total population!!"
_NH = _HISP + "Not Hispanic or Latino!!"
_EDUC = "Estimate!!EDUCATIONAL ATTAINMENT!!Population 25 years and over"
_INC = "Estimate!!INCOME AND BENEFITS (IN 2023 INFLATION-ADJUSTED DOLLARS)!!Total households"
_LANG = "Estimate!!LANGUAGE SPOKEN AT HOME!!Population 5 years and over"
_ADULTS = _DP05_AGE + "18 years and over"
_CVAP = "Estimate!!CITIZEN, VOTING AGE POPULATION!!Citizen, 18 and over population"

#: Bands of age_acs from 20 up, as DP05 labels them (18-19 is the rest of the adults).
_AGE_ROWS = {
    "20-24": "20 to 24 years", "25-34": "25 to 34 years", "35-44": "35 to 44 years",
    "45-54": "45 to 54 years", "55-59": "55 to 59 years", "60-64": "60 to 64 years",
    "65-74": "65 to 74 years", "75-84": "75 to 84 years", "85+": "85 years and over",
}  # fmt: skip

#: race7 level -> DP05 Hispanic-origin rows summed (non-Hispanic Some Other Race alone joins
#: Two or more races, as the seed pipeline's RACE does).
_RACE_ROWS = {
    "White": [_NH + "White alone"],
    "Black": [_NH + "Black or African American alone"],
    "American Indian and Alaska Native": [_NH + "American Indian and Alaska Native alone"],
    "Asian": [_NH + "Asian alone"],
    "Native Hawaiian and Pacific Islander": [
        _NH + "Native Hawaiian and Other Pacific Islander alone"],
    "Two or more races": [_NH + "Some Other Race alone", _NH + "Two or More Races"],
    "Hispanic": [_HISP + "Hispanic or Latino (of any race)"],
}  # fmt: skip

_EDUC_ROWS = {
    "Less than 9th grade": "Less than 9th grade",
    "9th to 12th grade, no diploma": "9th to 12th grade, no diploma",
    "High school graduate": "High school graduate (includes equivalency)",
    "Some college, no degree": "Some college, no degree",
    "Associate's degree": "Associate's degree",
    "Bachelor's degree": "Bachelor's degree",
    "Graduate or professional degree": "Graduate or professional degree",
}

#: variable -> universe of the rows it is read from (the ``universe`` of its margins).
UNIVERSES: dict[str, str] = {
    "sex": "adults 18+",
    "age_acs": "adults 18+",
    "citizen": "adults 18+ (citizens 18+ = DP05 CVAP; the rest are not citizens)",
    "educ7": "population 25+ (DP02), scaled to DP05 25+; Under 25 = adults 18-24",
    "race7": "total population (all ages), shares applied to adults 18+",
    "income10": "households (DP03), shares applied to adults 18+",
    "language5": "population 5+ (DP02), shares applied to adults 18+",
    "educ5": "population 25+ (DP02), shares applied to adults 18+",
}

#: Variables read from the profiles; the others are collapsed from one of them.
BASE = tuple(UNIVERSES)


@lru_cache(maxsize=1)
def _estimates() -> pd.DataFrame:
    """state x label table of the ``Estimate!!`` rows (the first of repeated labels)."""
    raw = read_table(PROFILES)
    est = raw[raw["label"].str.startswith("Estimate!!")]
    est = est.drop_duplicates(["state", "table", "label"])
    return est.pivot(index="state", columns="label", values="value")


def _col(est: pd.DataFrame, label: str) -> pd.Series:
    if label not in est.columns:
        raise TargetError(f"ACS 2023 profiles: row {label!r} is missing from {PROFILES}; the "
                          "shipped file is incomplete, reinstall calib")
    return est[label].astype(float)


def _base_counts(est: pd.DataFrame, variable: str) -> tuple[pd.DataFrame, pd.Series]:
    """(state x level counts in the variable's universe, adults 18+ total per state)."""
    adults = _col(est, _ADULTS)
    if variable == "sex":
        parts = {lv: _col(est, f"{_ADULTS}!!{lv}") for lv in LEVELS["sex"]}
    elif variable == "age_acs":
        bands = {lv: _col(est, _DP05_AGE + lab) for lv, lab in _AGE_ROWS.items()}
        parts = {"18-19": adults - sum(bands.values()), **bands}
    elif variable == "citizen":
        cvap = _col(est, _CVAP)
        parts = {"Citizen": cvap, "Not a citizen": adults - cvap}
    elif variable in ("educ7", "educ5"):
        parts = {lv: _col(est, f"{_EDUC}!!{lab}") for lv, lab in _EDUC_ROWS.items()}
        if variable == "educ7":
            young = _base_counts(est, "age_acs")[0][["18-19", "20-24"]].sum(axis=1)
            parts["Under 25"] = young
        else:
            parts = (pd.DataFrame(parts).T.rename(index=collapse_map("educ7", "educ6"))
                     .groupby(level=0).sum().T)
    elif variable == "race7":
        parts = {lv: sum(_col(est, r) for r in rows) for lv, rows in _RACE_ROWS.items()}
    elif variable == "income10":
        parts = {lv: _col(est, f"{_INC}!!{lv}") for lv in LEVELS["income10"]}
    elif variable == "language5":
        parts = {lv: _col(est, f"{_LANG}!!{lv}") for lv in LEVELS["language5"]}
    else:  # pragma: no cover - callers pass BASE names
        raise TargetError(f"no ACS 2023 profile rows for {variable!r}")
    tab = pd.DataFrame(parts)
    order = [lv for lv in LEVELS[variable] if lv in tab.columns]
    return tab[order], adults


def _to_adults(tab: pd.DataFrame, adults: pd.Series, variable: str) -> pd.DataFrame:
    """Put one variable's counts on the scale of adults 18+ (see the module table)."""
    if variable in ("sex", "age_acs", "citizen"):
        return tab
    if variable == "educ7":
        edu = [c for c in tab.columns if c != "Under 25"]
        pop25 = adults - tab["Under 25"]
        out = tab.copy()
        out[edu] = tab[edu].div(tab[edu].sum(axis=1), axis=0).mul(pop25, axis=0)
        return out
    return tab.div(tab.sum(axis=1), axis=0).mul(adults, axis=0)


def _base_of(variable: str) -> str:
    """The profile variable ``variable`` is read or collapsed from (TargetError if none)."""
    if variable not in LEVELS:
        raise TargetError(f"acs2023_targets: {variable!r} is not a harmonized variable; use one "
                          f"of {sorted(LEVELS)} (see docs/variables.md)")
    if variable in BASE or variable in ("state", "region"):
        return variable
    for base in BASE:
        try:
            collapse_map(base, variable)
        except UnmappedLevelError:  # this base does not nest in ``variable``
            continue
        return base
    fits = sorted({*BASE, "state", "region", "race4", "educ6", "educ3"})
    hint = ""
    if variable in AGE_SCHEMES:
        hint = (f" The DP05 bands (age_acs) do not nest in {variable!r} (25-34 straddles 30); "
                "recode personas to age_acs (codebook 'llm-simulation', or bins on single-year "
                "age).")
    raise TargetError(f"acs2023_targets cannot give {variable!r}: the ACS 2023 profiles do not "
                      f"hold it at a granularity that nests.{hint} Variables it gives: {fits}")


def acs2023_counts(
    variables: Sequence[str] | None = None, states: Sequence[str] | None = None
) -> pd.DataFrame:
    """Counts of adults 18+ by state for harmonized ``variables`` from the ACS 2023 profiles.

    Parameters
    ----------
    variables : harmonized names (default: every variable read from the profiles,
        :data:`BASE`). ``race4`` / ``educ6`` / ``educ3`` are collapsed from ``race7`` /
        ``educ7`` / ``educ5``; ``state`` and ``region`` are the adults of each.
    states : USPS codes (default: the 50 states; DC is not in the profiles).

    Returns
    -------
    DataFrame ``state, variable, level, count, total, universe``: ``count`` in the universe
    the table counts (NaN for ``state``/``region``, whose count is ``total``), ``total`` on the
    scale of adults 18+ (per state, the totals of every variable add up to the state's adults).

    Examples
    --------
    >>> c = acs2023_counts(["citizen", "race4"], states=["TX"])
    >>> c[["variable", "level"]].values.tolist()
    [['citizen', 'Citizen'], ['citizen', 'Not a citizen'], ['race4', 'White'], ['race4', 'Black'], ['race4', 'Hispanic'], ['race4', 'Other']]
    >>> c.groupby("variable")["total"].sum().tolist()  # TX adults, both
    [22963044.0, 22963044.0]
    """
    est = _estimates()
    keep = _states(states, est.index)
    est = est.loc[keep]
    frames = []
    for var in dict.fromkeys(variables or BASE):
        base = _base_of(var)
        if base in ("state", "region"):
            adults = _col(est, _ADULTS)
            level = adults.index if var == "state" else adults.index.map(REGION_OF_STATE)
            frames.append(pd.DataFrame({"state": adults.index, "variable": var, "level": level,
                                        "count": np.nan, "total": adults.to_numpy(),
                                        "universe": "adults 18+"}))
            continue
        tab, adults = _base_counts(est, base)
        scaled = _to_adults(tab, adults, base)
        if base != var:
            cmap = collapse_map(base, var)
            tab = tab.T.groupby(tab.columns.map(cmap), sort=False).sum().T
            scaled = scaled.T.groupby(scaled.columns.map(cmap), sort=False).sum().T
            order = [lv for lv in LEVELS[var] if lv in tab.columns]
            tab, scaled = tab[order], scaled[order]
        long = scaled.stack().reset_index()
        long.columns = ["state", "level", "total"]
        long["count"] = tab.stack().to_numpy()
        long["variable"] = var
        long["universe"] = UNIVERSES[base]
        frames.append(long[["state", "variable", "level", "count", "total", "universe"]])
    return pd.concat(frames, ignore_index=True)


def _states(states: Sequence[str] | None, have: pd.Index) -> list[str]:
    if states is None:
        return [s for s in STATES if s in have]
    states = list(dict.fromkeys(s.strip().upper() for s in states))
    bad = [s for s in states if s not in have]
    if bad:
        raise TargetError(f"state: {bad} not in the ACS 2023 profiles (50 states, no DC); drop "
                          "them")
    return [s for s in STATES if s in states]


def acs2023_targets(
    variables: Sequence[str],
    states: Sequence[str] | None = None,
    by: str | None = "state",
) -> Targets:
    """Targets (totals of adults 18+) from the ACS 2023 1-year state profiles.

    Parameters
    ----------
    variables : harmonized names: ``sex``, ``age_acs``, ``race7``, ``race4``, ``educ7``,
        ``educ6``, ``educ5``, ``educ3``, ``citizen``, ``income10``, ``language5``, ``state``,
        ``region``. A scheme the profiles would have to split (``age4``, ``age6``, ``age10``:
        25-34 straddles 30) raises :class:`~calib.core.errors.TargetError`.
    states : USPS codes (default: the 50 states).
    by : ``"state"`` (default): joint margins ``variable:state`` (``state`` itself one-way);
        ``None``: one-way margins summed over ``states``.

    Returns
    -------
    :class:`calib.Targets` of totals; every margin adds up to the adults 18+ of ``states``
    (``population``). Each margin's ``universe`` names the universe its rows count and how it
    was put on the adult scale (see the module docstring); ``provenance`` says the same.

    Examples
    --------
    >>> t = acs2023_targets(["age_acs", "sex", "race7", "educ7"], states=["CA", "TX"])
    >>> t.names
    ['age_acs:state', 'sex:state', 'race7:state', 'educ7:state']
    >>> {m.name: round(m.total) for m in t} == dict.fromkeys(t.names, round(t.population))
    True
    >>> acs2023_targets(["age4"])  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    calib.core.errors.TargetError: acs2023_targets cannot give 'age4': ...
    """
    if by not in (None, "state"):
        raise TargetError(f"acs2023_targets: by must be None or 'state', got {by!r}")
    variables = list(dict.fromkeys(variables))
    if not variables:
        raise TargetError("acs2023_targets: name at least one variable, e.g. ['age_acs', 'sex']")
    counts = acs2023_counts(variables, states)
    keep = list(dict.fromkeys(counts["state"]))
    margins = []
    for var in variables:
        c = counts[counts["variable"] == var]
        uni = c["universe"].iloc[0]
        if by is None or var in ("state", "region"):
            sums = c.groupby("level", sort=False)["total"].sum()
            order = [lv for lv in LEVELS[var] if lv in sums.index]
            margins.append(Margin((var,), tuple((lv,) for lv in order),
                                  sums.loc[order].to_numpy(), "total", universe=uni,
                                  source=SOURCE))
            continue
        rank = {lv: i for i, lv in enumerate(LEVELS[var])}
        srank = {s: i for i, s in enumerate(keep)}
        c = c.sort_values(["state", "level"], key=lambda s: s.map(
            srank if s.name == "state" else rank))
        margins.append(Margin((var, "state"), tuple(zip(c["level"], c["state"], strict=True)),
                              c["total"].to_numpy(), "total", universe=uni, source=SOURCE))
    pop = float(counts.loc[counts["variable"] == variables[0], "total"].sum())
    notes = "; ".join(f"{m.name}: {m.universe}" for m in margins)
    return Targets(tuple(margins), pop, {"source": SOURCE, "population": POPULATION,
                                         "universes": notes, "states": ",".join(keep)})


__all__ = ["acs2023_counts", "acs2023_targets", "BASE", "UNIVERSES", "PROFILES"]
