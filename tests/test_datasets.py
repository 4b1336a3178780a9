"""calib.data.datasets against published figures (FEC / certified results, Census, survey docs).

Every expected number here comes from a publisher (FEC "Federal Elections" reports and the
certified Electoral College tallies, Census Bureau PEP, the PROVENANCE checks of ANES / GSS),
never from our own output.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from calib import Sample
from calib.core.errors import DataError, TargetError, UnmappedLevelError
from calib.data.datasets import (
    ELECTION_YEARS,
    anes2020,
    cces2018,
    census_population,
    census_targets,
    district_results,
    election_results,
    electoral_votes,
    gss,
    poststrat_frame,
    state_predictors,
)
from calib.data.datasets._files import data_file, read_table
from calib.data.datasets._harmonize import harmonize
from calib.data.variables import LEVELS

# -- elections -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "year,dem,rep",
    [(2020, 81_268_924, 74_216_154), (2024, 75_017_648, 77_302_593),
     (2016, 65_853_507, 62_984_717)],
)  # fmt: skip
def test_national_popular_vote_2016_2024(year, dem, rep):
    nat = election_results(year, level="national")
    assert nat.shape[0] == 1 and nat["state_po"].iloc[0] == "US"
    assert int(nat["dem_votes"].iloc[0]) == dem
    assert int(nat["rep_votes"].iloc[0]) == rep


# Published national popular votes (FEC "Federal Elections" / Clerk of the House).
PUBLISHED_NATIONAL = {
    1976: (40_831_881, 39_148_634), 1980: (35_480_115, 43_903_230),
    1984: (37_577_352, 54_455_472), 1988: (41_809_074, 48_886_597),
    1992: (44_909_806, 39_104_550), 1996: (47_401_185, 39_197_469),
    2000: (50_999_897, 50_456_002), 2004: (59_028_444, 62_040_610),
    2008: (69_498_516, 59_948_323), 2012: (65_915_795, 60_933_504),
}  # fmt: skip


@pytest.mark.parametrize("year", sorted(PUBLISHED_NATIONAL))
def test_national_popular_vote_medsl_years(year):
    dem, rep = PUBLISHED_NATIONAL[year]
    nat = election_results(year, level="national").iloc[0]
    # MEDSL state files differ from the FEC compilations by late amendments: all within
    # 0.03% except 1992 Clinton (MEDSL 44,954,303, +0.099%)
    assert nat["dem_votes"] == pytest.approx(dem, rel=1.5e-3)
    assert nat["rep_votes"] == pytest.approx(rep, rel=1.5e-3)


# Winner-take-all EV by state popular-vote winner: certified tallies adjusted for faithless
# electors (1976 +1 Ford, 1988 +1 Dukakis, 2000 +1 Gore, 2004 +1 Kerry, 2016 Clinton 227+5,
# Trump 304+2) and district splits (2008 NE-2 Obama; 2016 ME-2 Trump; 2020/2024 cancel).
STATE_WINNER_EV = {
    1976: (297, 241), 1980: (49, 489), 1984: (13, 525), 1988: (112, 426), 1992: (370, 168),
    1996: (379, 159), 2000: (267, 271), 2004: (252, 286), 2008: (364, 174), 2012: (332, 206),
    2016: (233, 305), 2020: (306, 232), 2024: (226, 312),
}  # fmt: skip


@pytest.mark.parametrize("year", ELECTION_YEARS)
def test_electoral_votes_and_winners(year):
    res = election_results(year)
    assert len(res) == 51 and res["state_po"].is_unique
    assert int(res["electoral_votes"].sum()) == 538
    assert int(res.loc[res["state_po"] == "DC", "electoral_votes"].iloc[0]) == 3
    ev = res.groupby("winner")["electoral_votes"].sum()
    assert (int(ev.get("D", 0)), int(ev.get("R", 0))) == STATE_WINNER_EV[year]
    nat = election_results(year, "national").iloc[0]
    assert nat["electoral_votes"] == 538
    cols = ["dem_votes", "rep_votes", "other_votes", "total_votes"]
    assert (res[cols].to_numpy() >= 0).all() and not res.isna().any().any()
    assert np.allclose(res["dem_two_party_share"],
                       res["dem_votes"] / (res["dem_votes"] + res["rep_votes"]))


def test_apportionment_known_values():
    # Census apportionments: CA 45/47/54/55/55/54, TX 26/29/32/34/38/40, NY 41/36/33/31/29/28
    years = [1976, 1984, 1992, 2004, 2012, 2024]
    assert [int(electoral_votes(y)["CA"]) for y in years] == [45, 47, 54, 55, 55, 54]
    assert [int(electoral_votes(y)["TX"]) for y in years] == [26, 29, 32, 34, 38, 40]
    assert [int(electoral_votes(y)["NY"]) for y in years] == [41, 36, 33, 31, 29, 28]
    derived = read_table("elections/president_state_2016_2024.csv")  # compiled separately
    for y in (2016, 2020, 2024):
        d = derived[derived["year"] == y].set_index("state_po")["electoral_votes"]
        assert electoral_votes(y).sort_index().equals(d.sort_index().astype("int64"))


@pytest.mark.parametrize("bad", [2018, 1972, 2028, 1975, "2020", 2020.5])
def test_non_election_year_raises(bad):
    with pytest.raises(DataError, match="1976, 1980"):
        election_results(bad)


def test_bad_level_raises():
    with pytest.raises(DataError, match="level"):
        election_results(2020, level="county")


def test_medsl_matches_538_file():
    """2016/2020 (derived from 538) vs MEDSL, and 538 vs the loader's MEDSL years 2004-2012."""
    m = read_table("elections/medsl_president_state_1976_2020.parquet")
    for year, dem, rep in ((2016, "CLINTON, HILLARY", "TRUMP, DONALD J."),
                           (2020, "BIDEN, JOSEPH R. JR", "TRUMP, DONALD J.")):
        r = election_results(year).set_index("state_po")
        my = m[m["year"] == year]
        for name, col in ((dem, "dem_votes"), (rep, "rep_votes")):
            v = my[my["candidate"] == name].groupby("state_po")["candidatevotes"].sum()
            rel = (v / r[col] - 1).abs()
            assert rel.max() < 0.005, rel.sort_values().tail(3)
    f = read_table("elections/fte_president_general_2000_2024_reduced.parquet")
    f = f[f["state_abbrev"].isin(LEVELS["state"])]
    for year in (2000, 2004, 2008, 2012):
        r = election_results(year).set_index("state_po")
        fy = f[f["cycle"] == year]
        for party, col in (("DEM", "dem_votes"), ("REP", "rep_votes")):
            nominee = fy[fy["ballot_party"] == party].groupby("candidate_name")["votes"].sum().idxmax()
            v = fy[fy["candidate_name"] == nominee].groupby("state_abbrev")["votes"].sum()
            assert (v / r[col] - 1).abs().max() < 1e-3, (year, party)


@pytest.mark.parametrize("year", [2016, 2020, 2024])
def test_district_results(year):
    d = district_results(year)
    assert len(d) == 435 and d["cd"].is_unique and not d.isna().any().any()
    state = election_results(year).set_index("state_po")
    by_state = d.groupby("state_po")["two_party_votes"].sum()
    two_party = (state["dem_votes"] + state["rep_votes"]).reindex(by_state.index)
    assert (by_state / two_party - 1).abs().max() < 0.005
    share = (d["rep_two_party_share"] * d["two_party_votes"]).groupby(d["state_po"]).sum()
    rep2 = 1 - state["dem_two_party_share"].reindex(by_state.index)
    assert (share / by_state - rep2).abs().max() < 1e-3
    # published split electoral votes: ME-2 Trump 2016/2020/2024; NE-2 Trump 2016,
    # Biden 2020, Harris 2024
    cd = d.set_index("cd")["rep_two_party_share"]
    assert cd["ME-02"] > 0.5
    assert (cd["NE-02"] > 0.5) == (year == 2016)


def test_district_results_bad_year():
    with pytest.raises(DataError, match="2016, 2020, 2024"):
        district_results(2012)


# -- census --------------------------------------------------------------------------------


def test_poststrat_frame():
    f = poststrat_frame()
    assert int(f["n"].sum()) == 228_443_347
    assert len(f) == 12_000 and f["n"].dtype == np.int64
    for var in ("state", "region", "race4", "sex", "age6", "educ5"):
        assert isinstance(f[var].dtype, pd.CategoricalDtype)
        assert tuple(f[var].cat.categories) == LEVELS[var]
        assert not f[var].isna().any()
    assert f["state"].nunique() == 50 and "DC" not in set(f["state"].astype(str))
    assert len(f.drop_duplicates(["state", "race4", "sex", "age6", "educ5"])) == 12_000


def test_census_population_2020():
    pop = census_population()
    assert int(pop["pop_18plus"].sum()) == 256_662_010  # Census PEP v2020 US row
    assert int(pop["pop_total"].sum()) == 329_484_123
    assert int(pop.loc[pop["state"] == "AL", "pop_18plus"].iloc[0]) == 3_834_249
    with pytest.raises(DataError, match="2020"):
        census_population(2010)


def test_state_predictors_match_2016_results():
    p = state_predictors()
    assert len(p) == 50 and set(p["region"].astype(str)) == set(LEVELS["region"])
    res = election_results(2016).set_index("state_po")
    rep2 = 1 - res["dem_two_party_share"]  # repvote is the R two-party share (AL 0.6437)
    diff = p.set_index(p["state"].astype(str))["repvote"] - rep2.reindex(p["state"].astype(str))
    assert diff.abs().max() < 5e-4, diff.abs().sort_values().tail()


def test_cvap_targets_agree():
    t = census_targets(["sex", "age6", "race4", "educ5", "educ3", "region", "state"])
    for m in t:
        assert m.total == 228_443_347 and m.scale == "total"
    sx = census_targets(["sex", "age6"], by="state")
    assert sx.names == ["sex:state", "age6:state"]
    frame = poststrat_frame()
    by_state = frame.groupby(frame["state"].astype(str))["n"].sum()
    for m in sx:
        sums = pd.Series(m.values).groupby([lv[1] for lv in m.levels]).sum()
        assert sums.reindex(by_state.index).astype(int).equals(by_state.astype(int))
    tx = census_targets(["race4"], states=["TX"])
    assert tx.population == int(by_state["TX"])


def test_cvap_rake_fits_by_state_targets():
    frame = poststrat_frame()
    targets = census_targets(["sex", "age6"], by="state")
    raked = Sample(frame[["state", "sex", "age6"]]).rake(targets)
    w = raked.weights.to_numpy()
    got = pd.Series(w).groupby([frame["age6"].astype(str).to_numpy(),
                                frame["state"].astype(str).to_numpy()]).sum()
    want = targets["age6:state"]
    for lv, val in zip(want.levels, want.values, strict=True):
        assert got[lv] == pytest.approx(val, rel=1e-7)


def test_acs_targets_shares_and_universes():
    with pytest.warns(UserWarning, match="mixes universes|mix universes"):
        t = census_targets(["sex", "race4", "educ5"], universe="acs2023")
    assert t.population == 261_714_014  # PROVENANCE check: Σ pop_18plus over 50 states
    for m in t:
        assert m.scale == "share" and m.total == pytest.approx(1.0, abs=1e-12)
    assert "18+" in t["sex"].universe and "25+" in t["educ5"].universe
    assert "all ages" in t["race4"].universe
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        one = census_targets(["sex"], by="state", universe="acs2023", states=["VT", "TX"])
    acs = read_table("census/acs2023_1yr_state_key_marginals.csv").set_index("state")
    assert one.population == acs.loc[["VT", "TX"], "pop_18plus"].sum()
    m = one["sex:state"]
    female_tx = m.values[m.levels.index(("Female", "TX"))] * one.population
    assert female_tx == pytest.approx(acs.loc["TX", "female_18plus"])


@pytest.mark.parametrize(
    "variables,universe,match",
    [(["age4"], "cvap", "age6"), (["age10"], "cvap", "age6"), (["age6"], "acs2023", "cvap"),
     (["pid3"], "cvap", "can give"), (["nonsense"], "cvap", "harmonized"),
     (["sex"], "acs2018", "universe")],
)  # fmt: skip
def test_census_targets_errors(variables, universe, match):
    with pytest.raises(TargetError, match=match):
        census_targets(variables, universe=universe)


def test_census_targets_unknown_state():
    with pytest.raises(TargetError, match="DC"):
        census_targets(["sex"], universe="acs2023", states=["DC"])


# -- surveys -------------------------------------------------------------------------------


def _weighted_pct(frame, col, level, among=None):
    f = frame if among is None else frame[among]
    w = f["weight"]
    return float(w[f[col].astype(object) == level].sum() / w.sum() * 100)


def test_anes_vote_2020_published_check():
    a = anes2020()
    assert len(a) == 7453
    voters = a["VotedPres2020"] == "Yes"  # reported voters (NA choices stay in the base)
    for level, pct in (("Democrat", 53.4), ("Republican", 42.5), ("Other", 2.5)):
        assert _weighted_pct(a, "vote2020", level, voters) == pytest.approx(pct, abs=0.1)
    assert (a["weight"] == a["V200010b"]).all()
    assert {"VarUnit", "Stratum"} <= set(a.columns)


def test_gss_published_checks():
    g = gss()
    assert len(g) == 9000 and (g["weight"] == g["wtssps"]).all()
    assert _weighted_pct(g, "polviews", "moderate, middle of the road") == pytest.approx(36.3, abs=0.1)
    assert _weighted_pct(g, "ideo3", "Moderate") == pytest.approx(36.3, abs=0.1)
    assert _weighted_pct(g, "pid7", "Strong Democrat") == pytest.approx(15.9, abs=0.1)
    assert _weighted_pct(g, "pid7", "Strong Republican") == pytest.approx(13.5, abs=0.1)
    assert _weighted_pct(g, "consci", "a great deal", g["consci"].notna()) == pytest.approx(
        43.8, abs=0.1)


def test_harmonized_columns_are_categoricals_with_scheme_levels():
    for loader, n, expect in (
        (anes2020, 7453, {"age6", "age4", "sex", "race4", "educ5", "pid7", "pid3", "vote2016",
                          "vote2020"}),
        (cces2018, 1000, {"state", "region", "age6", "age4", "age10", "sex", "race4", "educ5",
                          "pid7", "pid3", "ideo5", "ideo3", "vote2016"}),
        (gss, 9000, {"region", "age6", "age4", "age10", "sex", "race4", "pid7", "pid3",
                     "ideo3"}),
    ):  # fmt: skip
        f = loader()
        assert len(f) == n  # no row dropped
        for var in expect:
            assert isinstance(f[var].dtype, pd.CategoricalDtype), var
            assert tuple(f[var].cat.categories) == LEVELS[var], var
        assert "weight" in f.columns and f["weight"].notna().all() and (f["weight"] > 0).all()


def test_missing_answers_become_na_not_levels():
    a = anes2020()
    assert int(a["sex"].isna().sum()) == int(a["Gender"].isna().sum()) == 51
    assert int(a["age6"].isna().sum()) == int((a["V201507x"] < 18).sum()) == 294
    assert int(a["educ5"].isna().sum()) == int(a["V201510"].isin([-9, -8, 95]).sum()) == 116
    c = cces2018()
    raw_pid = c["pid7_raw"]
    assert int(c["pid7"].isna().sum()) == int((raw_pid.isna() | (raw_pid > 7)).sum()) == 34
    assert int(c["ideo5"].isna().sum()) == int((c["ideo5_raw"].isna() | (c["ideo5_raw"] == 6)).sum())
    assert int(c["vote2016"].isna().sum()) == int(
        (c["CC18_317"].isna() | c["CC18_317"].isin([5, 8, 9])).sum())
    # CCES recall 2016 among valid answers: Clinton ahead of Trump, as in the full CCES
    assert (c["vote2016"] == "Democrat").sum() == (c["CC18_317"] == 2).sum()
    g = gss()
    assert int(g["pid7"].isna().sum()) == int((g["partyid"] == "other party").sum()) == 253


def test_cces_derived_columns_agree_with_source_derivations():
    c = cces2018()
    # the ccesMRPprep derivations (age_group, educ_mrp, state) agree with our codebook
    assert (c["age6"].astype(str) == c["age_group"].astype(str)).all()
    assert (c["educ5"].astype(str) == c["educ_mrp"].astype(str)).all()
    has = c["state_raw"].notna()
    assert (c.loc[has, "state"].astype(str) == c.loc[has, "state_raw"]).all()
    assert c["sex"].astype(str).eq(c["male"].map({0.5: "Male", -0.5: "Female"})).all()


def test_unmapped_value_raises_with_counts():
    raw = read_table("opinion/gss_2018_2024_subsample.parquet")
    raw["race_eth"] = raw["racecen1"]
    raw.loc[raw.index[:3], "sex"] = "intersex"
    with pytest.raises(UnmappedLevelError, match=r"intersex.*3 rows"):
        harmonize("gss", raw)


def test_data_file_missing():
    with pytest.raises(DataError, match="reinstall"):
        data_file("elections/nope.csv")
