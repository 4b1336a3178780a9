"""Census population data: the CVAP poststratification frame, state predictors, PEP and ACS.

* :func:`poststrat_frame` - citizens 18+ (CVAP) by state x race4 x sex x age6 x educ5,
  ACS 2014-2018 5-year via IPUMS, from the MRP Case Studies (50 states, no DC).
* :func:`state_predictors` - 2016 Republican vote share and Census region per state.
* :func:`census_population` - Census PEP Vintage 2020 resident population and 18+ by state.
* :func:`census_targets` - one-way or by-state margins as :class:`calib.Targets`, from the CVAP
  frame (totals) or the ACS 2023 1-year state key marginals (shares within each variable's
  universe).
* :func:`calib.data.datasets.acs.acs2023_targets` - the ACS 2023 1-year state profiles as totals
  of adults 18+ (age_acs, sex, race7, educ7, citizen, income10, language5, ...).

Examples
--------
>>> int(poststrat_frame()["n"].sum())
228443347
>>> int(census_population()["pop_18plus"].sum())
256662010
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from calib.core.errors import DataError, TargetError, UnmappedLevelError
from calib.core.literals import Universe
from calib.core.targets import Margin, Targets
from calib.data.datasets._files import read_table
from calib.data.variables import (
    LEVELS,
    REGION_OF_STATE,
    STATES,
    collapse_map,
)

CVAP_UNIVERSE = "citizens 18+ (CVAP), ACS 2014-2018 5-year, 50 states"
CVAP_SOURCE = "MRP Case Studies poststrat_df (IPUMS ACS 2014-2018 5-year)"
ACS_SOURCE = "ACS 2023 1-year Data Profiles DP02/DP05, state key marginals"

#: Variables the CVAP frame holds and the harmonized scheme each is coded in.
CVAP_BASE = {"state": "state", "region": "region", "sex": "sex", "race4": "race4",
             "age6": "age6", "educ5": "educ5"}  # fmt: skip


def _cat(values: pd.Series | np.ndarray, variable: str) -> pd.Categorical[str]:
    cat = pd.Categorical(values, categories=list(LEVELS[variable]))
    bad = pd.isna(cat) & pd.notna(np.asarray(values, dtype=object))
    if bad.any():
        raise UnmappedLevelError(
            f"{variable}: values {sorted(set(np.asarray(values, dtype=object)[bad]))} are not "
            f"harmonized levels {LEVELS[variable]}; fix the shipped file or the recode",
            {variable: sorted(set(np.asarray(values, dtype=object)[bad]))},
        )
    return cat


def poststrat_frame() -> pd.DataFrame:
    """The CVAP poststratification cells in harmonized coding.

    Universe: US citizens aged 18+ in the 50 states (no DC), ACS 2014-2018 5-year estimates
    via IPUMS, as built for Lopez-Martin, Phillips & Gelman's *MRP Case Studies*. All
    12,000 cells = 50 states x 4 race x 2 sex x 6 age x 5 education are present.

    Returns
    -------
    DataFrame with categorical columns ``state, region, race4, sex, age6, educ5`` (levels in
    :data:`calib.data.variables.LEVELS` order; ``state`` keeps the DC level, unused) and ``n``
    (int64, weighted count of people; sums to 228,443,347). ``race4`` is the source's ``eth``
    (White and Black non-Hispanic, Hispanic, Other), ``sex`` from ``male`` (+0.5 Male,
    -0.5 Female), ``region`` from :data:`calib.data.variables.REGION_OF_STATE`.

    Examples
    --------
    >>> f = poststrat_frame()
    >>> f.shape
    (12000, 7)
    >>> f.groupby("sex", observed=True)["n"].sum().to_dict()
    {'Female': 117698473, 'Male': 110744874}
    """
    raw = read_table("census/mrpcasestudy_poststrat_df.parquet")
    sex = raw["male"].map({0.5: "Male", -0.5: "Female"})
    if sex.isna().any():
        raise DataError(f"sex: 'male' values {sorted(raw.loc[sex.isna(), 'male'].unique())} "
                        "are not +-0.5 in the shipped CVAP frame; the file is corrupt")
    out = pd.DataFrame(
        {
            "state": _cat(raw["state"].astype(str), "state"),
            "region": _cat(raw["state"].astype(str).map(REGION_OF_STATE), "region"),
            "race4": _cat(raw["eth"].astype(str), "race4"),
            "sex": _cat(sex, "sex"),
            "age6": _cat(raw["age"].astype(str), "age6"),
            "educ5": _cat(raw["educ"].astype(str), "educ5"),
            "n": raw["n"].astype("int64"),
        }
    )
    return out


def state_predictors() -> pd.DataFrame:
    """State-level predictors for MRP: 2016 Republican two-party share, region, 2020 adults.

    Returns
    -------
    DataFrame, one row per state (50 states, no DC, USPS order): ``state`` (categorical),
    ``repvote`` (2016 Republican **two-party** share R / (D + R), from the MRP Case Studies;
    the shared notes called it a share of the total vote, but it matches
    ``1 - dem_two_party_share`` of :func:`election_results` (2016) within 1.3e-4 in every
    state, e.g. AL 0.6437 = 1,318,255 / (729,547 + 1,318,255)), ``region`` (harmonized Census region; the source's "North Central" is
    "Midwest"), ``pop_18plus`` (Census PEP Vintage 2020 resident population 18+, July 1 2020).

    Examples
    --------
    >>> p = state_predictors()
    >>> p.loc[p["state"] == "AL", "repvote"].round(4).tolist()
    [0.6437]
    """
    raw = read_table("census/mrpcasestudy_statelevel_predictors.csv")
    region = raw["state"].map(REGION_OF_STATE)
    src = raw["region"].replace({"North Central": "Midwest"})
    if (region != src).any():
        bad = raw.loc[region != src, ["state", "region"]].values.tolist()
        raise DataError(f"region: shipped predictors disagree with REGION_OF_STATE at {bad}")
    pop = census_population().set_index("state")["pop_18plus"]
    out = pd.DataFrame(
        {
            "state": _cat(raw["state"], "state"),
            "repvote": raw["repvote"].astype(float),
            "region": _cat(region, "region"),
            "pop_18plus": raw["state"].map(pop).astype("int64"),
        }
    )
    order = out["state"].cat.codes.to_numpy()
    return out.iloc[np.argsort(order, kind="stable")].reset_index(drop=True)


def census_population(year: int = 2020) -> pd.DataFrame:
    """Census Bureau resident population and population 18+ by state, July 1 of ``year``.

    Source: Population Estimates Program, Vintage 2020 (SC-EST2020-18+POP-RES), 50 states and
    DC (51 rows; the US row of the source equals their sum). Only ``year=2020`` ships.

    Examples
    --------
    >>> pop = census_population()
    >>> len(pop), int(pop["pop_total"].sum())
    (51, 329484123)
    """
    if year != 2020:
        raise DataError(f"census_population: year {year!r} is not shipped; only 2020 (PEP "
                        "Vintage 2020) is available, pass year=2020")
    raw = read_table("census/census_pep_v2020_state_pop18plus.csv", dtype={"STATE": str})
    st = raw[raw["SUMLEV"] == 40]
    name_to_po = _state_names()
    po = st["NAME"].map(name_to_po)
    if po.isna().any():
        raise DataError(f"state: PEP names {st.loc[po.isna(), 'NAME'].tolist()} not recognised")
    out = pd.DataFrame(
        {
            "state": _cat(po, "state"),
            "name": st["NAME"].astype(str).to_numpy(),
            "pop_total": st["POPESTIMATE2020"].astype("int64").to_numpy(),
            "pop_18plus": st["POPEST18PLUS2020"].astype("int64").to_numpy(),
        }
    )
    order = out["state"].cat.codes.to_numpy()
    return out.iloc[np.argsort(order, kind="stable")].reset_index(drop=True)


def _state_names() -> dict[str, str]:
    res = read_table("elections/president_state_2016_2024.csv")
    return dict(zip(res["state"], res["state_po"], strict=False))


# -- targets ------------------------------------------------------------------------------

#: ACS 2023 key marginals: harmonized variable -> (universe, {level: [columns summed]}).
ACS_MARGINS: dict[str, tuple[str, dict[str, list[str]]]] = {
    "sex": ("population 18+", {"Female": ["female_18plus"], "Male": ["male_18plus"]}),
    "race4": ("total population (all ages)", {
        "White": ["nh_white"], "Black": ["nh_black"], "Hispanic": ["hispanic_any_race"],
        "Other": ["nh_aian", "nh_asian", "nh_nhpi", "nh_other", "nh_two_plus"]}),
    "educ5": ("population 25+", {
        "No HS": ["ed_lt_9th", "ed_9_12_nodiploma"], "HS": ["ed_hs_grad"],
        "Some college": ["ed_some_college", "ed_associate"], "4-Year College": ["ed_bachelor"],
        "Post-grad": ["ed_graduate"]}),
    "state": ("population 18+", {}),
    "region": ("population 18+", {}),
}  # fmt: skip

_ACS_AGE = ("ACS 2023 DP05 age bands of the total population (<20, 20-24, 25-34, 35-44, 45-54, "
            "55-59, 60-64, 65-74, 75-84, 85+)")


def _family(variable: str) -> str:
    return "state" if variable == "region" else variable.rstrip("0123456789")


def _find_base(variable: str, universe: Universe) -> tuple[str | None, list[str]]:
    have = CVAP_BASE if universe == "cvap" else {k: k for k in ACS_MARGINS}
    if variable in have:
        return have[variable], []
    errors = []
    for base in have:
        if _family(base) != _family(variable):
            continue
        try:
            collapse_map(base, variable)
        except UnmappedLevelError as err:
            errors.append(str(err))
            continue
        return base, []
    return None, errors


def _base_scheme(variable: str, universe: Universe) -> str:
    """The harmonized scheme a universe holds that ``variable`` can be collapsed from."""
    if variable not in LEVELS:
        raise TargetError(
            f"census_targets: {variable!r} is not a harmonized variable; use one of "
            f"{sorted(LEVELS)} (see docs/variables.md)"
        )
    base, errors = _find_base(variable, universe)
    if base is not None:
        return base
    if variable.startswith("age") and universe == "acs2023":
        raise TargetError(
            f"census_targets(universe='acs2023'): {variable!r} cannot be built: the {_ACS_AGE} "
            "split age4, age6 and age10 (25-34 straddles 30) and the key marginals have no "
            "18-19 band. Use acs2023_targets(['age_acs', ...]) (the DP05 bands of adults), "
            "universe='cvap' for age6 (citizens 18+), or targets from single-year age data"
        )
    fits = [v for v in LEVELS if _find_base(v, universe)[0] is not None]
    why = f" ({'; '.join(errors)})" if errors else ""
    raise TargetError(
        f"census_targets(universe={universe!r}) cannot give {variable!r}: the source does not "
        f"hold it at a granularity that nests{why}. Variables it can give: {fits}"
    )


def census_targets(
    variables: Sequence[str],
    by: str | None = None,
    universe: Universe = "cvap",
    states: Sequence[str] | None = None,
) -> Targets:
    """Population targets for harmonized ``variables``, nationally or by state.

    Parameters
    ----------
    variables : harmonized names, e.g. ``["age6", "sex", "race4", "educ5"]``. Coarser schemes
        are collapsed from what the source holds (``educ3`` from ``educ5``); a scheme whose
        bands the source would have to split (e.g. ``age4`` from the CVAP decades) raises
        :class:`~calib.core.errors.TargetError` naming the schemes that fit.
    by : ``None`` for one-way margins, or ``"state"`` for joint margins ``variable:state``
        (shares/totals of the whole population), so raking to them fits every state.
    universe : ``"cvap"`` (default): citizens 18+ from :func:`poststrat_frame`; **totals**
        that agree exactly across margins. ``"acs2023"``: ACS 2023 1-year state key marginals
        (50 states, no DC), where each variable has its own universe - sex and state 18+, race
        of the total population (all ages), education 25+. These come as **shares** within
        each universe, with ``population`` = ACS population 18+ of the states involved and
        ``Margin.universe`` set; mixing universes warns (UserWarning). The key marginals give
        no age margin; :func:`calib.data.datasets.acs.acs2023_targets` gives ``age_acs`` and the
        other profile variables as totals of adults.
    states : restrict to these USPS codes (default: every state of the source).

    Returns
    -------
    :class:`calib.Targets`

    Examples
    --------
    >>> t = census_targets(["sex", "educ3"])
    >>> t["sex"].values.tolist()
    [117698473.0, 110744874.0]
    >>> t["educ3"].total == t.population == 228443347
    True
    >>> s = census_targets(["sex"], by="state", universe="acs2023", states=["TX", "VT"])
    >>> s.names, round(float(s["sex:state"].values.sum()), 12)
    (['sex:state'], 1.0)
    """
    if universe not in ("cvap", "acs2023"):
        raise TargetError(f"census_targets: universe must be 'cvap' or 'acs2023', got {universe!r}")
    if by not in (None, "state"):
        raise TargetError(f"census_targets: by must be None or 'state', got {by!r}")
    variables = list(dict.fromkeys(variables))
    if not variables:
        raise TargetError("census_targets: name at least one variable, e.g. ['sex', 'age6']")
    if universe == "cvap":
        return _cvap_targets(variables, by, states)
    return _acs_targets(variables, by, states)


def _check_states(states: Sequence[str] | None, have: Sequence[str], source: str) -> list[str]:
    if states is None:
        return list(have)
    states = list(dict.fromkeys(states))
    bad = [s for s in states if s not in have]
    if bad:
        raise TargetError(
            f"state: {bad} not in the {source} (it has {len(have)} states"
            f"{'' if 'DC' in have else ', no DC'}); drop them or choose another universe"
        )
    return states


def _cvap_targets(variables: list[str], by: str | None, states: Sequence[str] | None) -> Targets:
    frame = poststrat_frame()
    keep = _check_states(states, frame["state"].astype(str).unique().tolist(), "CVAP frame")
    frame = frame[frame["state"].astype(str).isin(keep)]
    margins = []
    for var in variables:
        base = _base_scheme(var, "cvap")
        col = frame[base].astype(str)
        lv = col.map(collapse_map(base, var)) if base != var else col
        group = [lv] if by is None or var == "state" else [lv, frame["state"].astype(str)]
        sums = frame["n"].groupby(group).sum()
        sums = _ordered(sums, [var] if len(group) == 1 else [var, "state"], keep)
        mvars = (var,) if len(group) == 1 else (var, "state")
        levels = [k if isinstance(k, tuple) else (k,) for k in sums.index]
        margins.append(Margin(mvars, tuple(levels), sums.to_numpy(float), "total",
                              universe=CVAP_UNIVERSE, source=CVAP_SOURCE))
    pop = float(frame["n"].sum())
    return Targets(tuple(margins), pop, {"source": CVAP_SOURCE, "universe": CVAP_UNIVERSE})


def _ordered(s: pd.Series, names: list[str], states: list[str]) -> pd.Series:
    """Order a (multi)index by harmonized level order, dropping zero-free gaps not needed."""
    order = {v: {lv: i for i, lv in enumerate(LEVELS[v])} for v in names}
    keys = sorted(s.index, key=lambda k: tuple(order[n][x] for n, x in
                                              zip(names, k if isinstance(k, tuple) else (k,),
                                                  strict=True)))
    return s.loc[keys]


def _acs_targets(variables: list[str], by: str | None, states: Sequence[str] | None) -> Targets:
    acs = read_table("census/acs2023_1yr_state_key_marginals.csv").set_index("state")
    keep = _check_states(states, acs.index.tolist(), "ACS 2023 key marginals")
    keep = [s for s in STATES if s in keep]
    acs = acs.loc[keep]
    pop18 = acs["pop_18plus"].astype(float)
    total18 = float(pop18.sum())
    margins = []
    for var in variables:
        base = _base_scheme(var, "acs2023")
        uni, parts = ACS_MARGINS[base]
        if base in ("state", "region"):
            counts = pd.DataFrame({"all": pop18})
            lvmap = {s: (s if var == "state" else REGION_OF_STATE[s]) for s in keep}
            counts = pop18.groupby(pd.Index(keep).map(lvmap)).sum()
            counts = counts.reindex([lv for lv in LEVELS[var] if lv in counts.index])
            margins.append(Margin((var,), tuple((k,) for k in counts.index),
                                  (counts / total18).to_numpy(), "share",
                                  universe=f"ACS 2023 1-year, {uni}", source=ACS_SOURCE))
            continue
        base_tab = pd.DataFrame({lv: acs[cols].sum(axis=1) for lv, cols in parts.items()})
        if base != var:
            cmap = collapse_map(base, var)
            base_tab = base_tab.T.groupby(base_tab.columns.map(cmap)).sum().T
            base_tab = base_tab[[lv for lv in LEVELS[var] if lv in base_tab.columns]]
        within = base_tab.div(base_tab.sum(axis=1), axis=0)  # shares within each state
        uni_txt = f"ACS 2023 1-year, {uni}"
        if by == "state":
            joint = within.mul(pop18 / total18, axis=0)
            levels = [(lv, st) for st in keep for lv in joint.columns]
            vals = [joint.loc[st, lv] for lv, st in levels]
            margins.append(Margin((var, "state"), tuple(levels), np.array(vals), "share",
                                  universe=uni_txt,
                                  source=ACS_SOURCE))
        else:
            nat = base_tab.sum(axis=0) / base_tab.to_numpy().sum()
            margins.append(Margin((var,), tuple((lv,) for lv in nat.index), nat.to_numpy(),
                                  "share", universe=uni_txt, source=ACS_SOURCE))
    t = Targets(tuple(margins), total18, {"source": ACS_SOURCE,
                                          "population": "ACS 2023 population 18+"})
    t.warn_mixed_universes()
    return t


__all__ = ["poststrat_frame", "state_predictors", "census_population", "census_targets"]
