"""The seed pipeline's persona format (codebook ``llm-simulation``) and ACS 2023 profile targets.

Fixtures: tests/fixtures/llm_simulation (hand-made from the format's spellings). Checks that do
not depend on calib's own numbers: every spelling recodes (0 unmapped, 0 missing), raking to the
ACS 2023 state margins meets them, target totals equal the published ACS figures (the
PROVENANCE checks of the key marginals file and the profile rows themselves).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from calib import Sample
from calib.cli.main import main
from calib.core.errors import DataError, TargetError, UnmappedLevelError
from calib.core.targets import Targets
from calib.data.codebook import Codebook
from calib.data.datasets import acs2023_counts, acs2023_targets
from calib.data.datasets._files import read_table
from calib.data.readers import read_personas
from calib.data.variables import LEVELS, age_band, collapse_map, nests

FIX = Path(__file__).parent / "fixtures" / "llm_simulation"
META, DESC = FIX / "meta_personas.csv", FIX / "descriptive_personas.csv"
SPELLINGS = {
    "AGE": ["18 to 19 years", "20 to 24 years", "25 to 34 years", "35 to 44 years",
            "45 to 54 years", "55 to 59 years", "60 to 64 years", "65 to 74 years",
            "75 to 84 years", "85 years and over"],
    "RACE": ["White", "Hispanic", "Black or African American", "Asian",
             "American Indian and Alaska Native", "Native Hawaiian and Other Pacific Islander",
             "Some Other Race", "White and Some Other Race",
             "White and American Indian and Alaska Native", "White and Black or African American",
             "White and Asian", "Black or African American and Some Other Race",
             "Black or African American and American Indian and Alaska Native"],
    "EDUCATION": ["Less than 9th grade", "9th to 12th grade, no diploma", "High school graduate",
                  "Some college, no degree", "Associate's degree", "Bachelor's degree",
                  "Graduate or professional degree"],
    "CITIZENSHIP": ["US Citizen", "Not a U.S. citizen"],
    "INCOME_RANGE": ["Less than $10,000", "$10,000 to $14,999", "$15,000 to $24,999",
                     "$25,000 to $34,999", "$35,000 to $49,999", "$50,000 to $74,999",
                     "$75,000 to $99,999", "$100,000 to $149,999", "$150,000 to $199,999",
                     "$200,000 or more"],
    "LANGUAGE": ["English only", "Spanish", "Other Indo-European languages",
                 "Asian and Pacific Islander languages", "Other languages"],
}  # fmt: skip
TARGETS = ["age_acs", "sex", "race7", "race4", "state", "region", "educ7", "educ6", "educ5",
           "educ3", "citizen", "income10", "language5"]


def cli(capsys, *args):
    code = main([str(a) for a in args])
    return code, capsys.readouterr()


# -- codebook -----------------------------------------------------------------------------


@pytest.mark.parametrize("path,first", [(META, "AGE"), (DESC, "Age")])
def test_every_spelling_recodes_with_nothing_unmapped_or_missing(path, first):
    raw = pd.read_csv(path, dtype=str, keep_default_na=False)
    for col, values in SPELLINGS.items():  # the fixture holds every spelling of the format
        got = raw[col.capitalize() if col in ("AGE", "RACE") and first == "Age" else col]
        assert set(got) == set(values), col
    out, rep = read_personas(path, codebook="llm-simulation")
    assert rep.missing == dict.fromkeys(TARGETS, 0) and rep.skipped == ()
    for col in TARGETS:
        assert list(out[col].cat.categories) == list(LEVELS[col]), col
    used = dict(zip(rep.mappings["target"], rep.mappings["source"], strict=False))
    assert used["age_acs"] == first and used["state"] == ("state" if first == "AGE" else "STATE_ABBR")


def test_llm_simulation_levels_follow_the_format():
    out, _ = read_personas(META, codebook="llm-simulation")
    race = out["RACE"]
    multi = race.str.contains(" and ") & ~race.isin(
        ["American Indian and Alaska Native", "Native Hawaiian and Other Pacific Islander"])
    assert (out.loc[multi | (race == "Some Other Race"), "race7"] == "Two or more races").all()
    assert (out.loc[multi, "race4"] == "Other").all()
    assert (out.loc[race == "Hispanic", "race4"] == "Hispanic").all()
    young = out["AGE"].isin(["18 to 19 years", "20 to 24 years"])
    # personas aged 18-24 sit in Under 25 whatever their EDUCATION says; nobody else does
    assert young.any() and out.loc[young, "EDUCATION"].nunique() > 1
    assert ((out["educ7"] == "Under 25") == young).all()
    assert ((out["educ6"] == "Under 25") == young).all()
    assert out.loc[young, "educ5"].notna().all()  # educ5 keeps their EDUCATION
    assert (out["citizen"] == "Not a citizen").sum() == (out["CITIZENSHIP"] == "Not a U.S. citizen").sum()
    assert out["income10"].astype(str).equals(out["INCOME_RANGE"])
    assert out["language5"].astype(str).equals(out["LANGUAGE"])


def test_recode_cli_reports_zero_unmapped(tmp_path, capsys):
    for path in (META, DESC):
        code, out = cli(capsys, "recode", path, "--codebook", "llm-simulation", "--out",
                        tmp_path / f"{path.stem}.csv", "--report", tmp_path / f"r_{path.stem}.csv")
        assert code == 0, out.err
        rep = pd.read_csv(tmp_path / f"r_{path.stem}.csv")
        assert rep["level"].notna().all()  # no value went to NA
    # the Hugging Face release's codebook cannot read this format (STATE is spelled state)
    code, out = cli(capsys, "recode", META, "--codebook", "personas", "--out", tmp_path / "p.csv")
    assert code != 0 and "'STATE'" in out.err


# -- codebook features used by llm-simulation ---------------------------------------------


def _book(*recodes: dict) -> Codebook:
    return Codebook.from_dict({"name": "t", "recode": list(recodes)})


def test_source_list_takes_the_first_column_present():
    book = _book({"target": "sex", "source": ["SEX", "Sex"], "map": {"F": "Female"}})
    assert book.recodes[0].sources == ("SEX", "Sex")
    out, rep = book.apply(pd.DataFrame({"Sex": ["F"]}))
    assert out["sex"].tolist() == ["Female"] and rep.mappings["source"].tolist() == ["Sex"]
    out, _ = book.apply(pd.DataFrame({"SEX": ["F"], "Sex": ["?"]}))
    assert out["sex"].tolist() == ["Female"]
    with pytest.raises(DataError, match="'SEX' or 'Sex'"):
        book.apply(pd.DataFrame({"gender": ["F"]}))
    with pytest.raises(DataError, match="twice"):
        _book({"target": "sex", "source": ["SEX", "SEX"], "map": {"F": "Female"}})


def test_when_rules_override_the_source_and_first_rule_wins():
    book = _book(
        {"target": "age_acs", "source": "age", "bins": [18, 20, 25, 35],
         "labels": ["18-19", "20-24", "25-34"]},
        {"target": "educ7", "source": "ed", "map": {"BA": "Bachelor's degree"},
         "when": [{"column": "age_acs", "values": ["18-19", "20-24"], "level": "Under 25"},
                  {"column": "age_acs", "values": ["20-24"], "level": "Bachelor's degree"}]})
    frame = pd.DataFrame({"age": [19, 22, 30, 30], "ed": ["??", "BA", "BA", "BA"]})
    out, rep = book.apply(frame)  # '??' is only in an overridden row: not unmapped
    assert out["educ7"].tolist() == ["Under 25", "Under 25", "Bachelor's degree",
                                     "Bachelor's degree"]
    rows = rep.mappings[rep.mappings["target"] == "educ7"]
    assert rows["value"].tolist()[0] == "when age_acs in [18-19, 20-24]"
    assert rows["rows"].tolist() == [2, 2]
    with pytest.raises(UnmappedLevelError) as ei:
        book.apply(pd.DataFrame({"age": [19, 30], "ed": ["BA", "??"]}))
    assert ei.value.unmapped == {"educ7": {"??": 1}}
    # select() keeps the recode a rule reads
    assert Codebook.builtin("llm-simulation").select(["educ7"]).targets == ("age_acs", "educ7")


@pytest.mark.parametrize("when,match", [
    ({"column": "age_acs", "values": ["18-19"]}, "exactly the keys"),
    ({"column": "age_acs", "values": [], "level": "Under 25"}, "non-empty list"),
    ({"column": "age_acs", "values": ["18-19"], "level": "Young"}, "not a level of 'educ7'"),
    ({"column": "educ7", "values": ["x"], "level": "Under 25"}, "another column"),
    ("Under 25", "must be a table"),
])  # fmt: skip
def test_when_rules_are_validated(when, match):
    with pytest.raises(DataError, match=match):
        _book({"target": "educ7", "source": "ed", "map": {"BA": "Bachelor's degree"},
               "when": when})


def test_when_column_must_exist():
    book = _book({"target": "educ7", "source": "ed", "map": {"BA": "Bachelor's degree"},
                  "when": {"column": "age_acs", "values": ["18-19"], "level": "Under 25"}})
    with pytest.raises(DataError, match="educ7 when 'age_acs'"):
        book.apply(pd.DataFrame({"ed": ["BA"]}))


# -- variables ----------------------------------------------------------------------------


def test_age_acs_scheme_and_single_year_ages():
    assert LEVELS["age_acs"] == ("18-19", "20-24", "25-34", "35-44", "45-54", "55-59", "60-64",
                                 "65-74", "75-84", "85+")
    ages = pd.Series([18, 19, 20, 34, 35, 59, 60, 64, 65, 84, 85, 101])
    assert list(age_band(ages, "age_acs")) == ["18-19", "18-19", "20-24", "25-34", "35-44",
                                               "55-59", "60-64", "60-64", "65-74", "75-84",
                                               "85+", "85+"]
    for other in ("age4", "age6", "age10"):  # 25-34 straddles 30; age10 splits 25-34 itself
        assert not nests("age_acs", other) and not nests(other, "age_acs")
    assert collapse_map("educ7", "educ6")["Under 25"] == "Under 25"
    assert set(collapse_map("educ7", "educ6").values()) == set(LEVELS["educ6"])
    # single-year ages reach age_acs through a bins recode, mislabelled bins are refused
    with pytest.raises(UnmappedLevelError, match="age_acs"):
        _book({"target": "age_acs", "source": "age", "bins": [18, 30], "labels": ["25-34"]})


def test_survey_codebooks_bin_single_year_age_into_age_acs():
    from calib.data.datasets import cces2018, gss

    for frame in (cces2018(), gss()):
        ok = frame["age_acs"].notna()
        assert ok.sum() == frame["age10"].notna().sum()
        assert (frame.loc[ok, "age_acs"].astype(str)
                == age_band(frame.loc[ok, "age"].astype(float), "age_acs").astype(str)).all()


# -- ACS 2023 profile targets -------------------------------------------------------------


def test_acs_targets_match_published_figures():
    key = read_table("census/acs2023_1yr_state_key_marginals.csv").set_index("state")
    t = acs2023_targets(["sex"])
    assert t.population == 261_714_014  # PROVENANCE check: Σ pop_18plus over 50 states
    c = acs2023_counts().pivot_table(index="state", columns=["variable", "level"],
                                     values="count", aggfunc="sum")
    tot = acs2023_counts().groupby(["state", "variable"])["total"].sum().unstack()
    for var in tot.columns:  # every variable adds up to the state's adults 18+
        np.testing.assert_allclose(tot[var], key.loc[tot.index, "pop_18plus"], rtol=1e-12)
    np.testing.assert_array_equal(c[("sex", "Female")], key["female_18plus"])
    np.testing.assert_array_equal(c[("sex", "Female")] + c[("sex", "Male")], key["pop_18plus"])
    for band, col in (("20-24", "age_20_24"), ("25-34", "age_25_34"), ("85+", "age_85plus")):
        np.testing.assert_array_equal(c[("age_acs", band)], key[col])
    np.testing.assert_array_equal(c["age_acs"].sum(axis=1), key["pop_18plus"])
    race = c["race7"]
    np.testing.assert_array_equal(race.sum(axis=1), key["pop_total"])  # total population
    np.testing.assert_array_equal(race["Hispanic"], key["hispanic_any_race"])
    np.testing.assert_array_equal(race["Two or more races"], key["nh_other"] + key["nh_two_plus"])
    np.testing.assert_array_equal(c["educ5"].sum(axis=1), key["pop_25plus"])
    np.testing.assert_array_equal(c[("educ7", "Bachelor's degree")], key["ed_bachelor"])
    np.testing.assert_array_equal(c[("educ7", "Under 25")],
                                  c[("age_acs", "18-19")] + c[("age_acs", "20-24")])
    # citizens: the DP05 citizen voting-age row; AL as published
    assert c.loc["AL", ("citizen", "Citizen")] == 3_871_866
    assert c.loc["AL", ("age_acs", "18-19")] == 3_978_822 - 3_832_762


def test_acs_targets_by_state_are_consistent_and_keep_universes():
    t = acs2023_targets(["age_acs", "sex", "race7", "educ7", "citizen", "income10", "language5",
                         "race4", "educ6", "educ5", "educ3", "state", "region"],
                        states=["VT", "CA"])
    assert t.population == 532_638 + 30_527_864
    for m in t:
        assert m.scale == "total" and m.total == pytest.approx(t.population, rel=1e-12)
    assert t["state"].levels == (("CA",), ("VT",))  # USPS order
    assert t["sex:state"].universe == "adults 18+"
    assert t["race7:state"].universe.startswith("total population (all ages)")
    assert "25+" in t["educ7:state"].universe and "households" in t["income10:state"].universe
    assert "CVAP" in t["citizen:state"].universe
    assert "universes" in t.provenance and t.provenance["states"] == "CA,VT"
    national = acs2023_targets(["race4", "region"], states=["VT", "CA"], by=None)
    assert national["race4"].total == pytest.approx(t.population)


@pytest.mark.parametrize("variables,match", [
    (["age4"], "age_acs"), (["age10"], "25-34"), (["pid3"], "can"), (["nope"], "harmonized"),
])  # fmt: skip
def test_acs_targets_refuse_what_does_not_nest(variables, match):
    with pytest.raises(TargetError, match=match):
        acs2023_targets(variables)


def test_acs_targets_unknown_state():
    with pytest.raises(TargetError, match="DC"):
        acs2023_targets(["sex"], states=["DC"])


@pytest.mark.parametrize("path,race,states", [
    (META, "race7", ["CA", "TX", "VT"]), (META, "race4", ["CA", "TX", "VT"]),
    (DESC, "race7", ["GA", "OH"]),
])  # fmt: skip
def test_personas_rake_to_acs_state_margins(path, race, states):
    out, _ = read_personas(path, codebook="llm-simulation")
    t = acs2023_targets(["age_acs", "sex", race, "educ7"], states=states)
    w = Sample(out).rake(t).weights.to_numpy()
    for m in t:
        keys = [out[v].astype(str).to_numpy() for v in m.variables]
        got = pd.Series(w).groupby(keys).sum()
        for lv, want in zip(m.levels, m.values, strict=True):
            assert got[lv] == pytest.approx(want, rel=1e-8), (m.name, lv)


def test_targets_export_cli_drives_weight(tmp_path, capsys):
    code, out = cli(capsys, "targets", "export", "acs2023-state", "--variables",
                    "age_acs,sex,race7,educ7", "--states", "CA,TX", "--out", tmp_path / "t.csv")
    assert code == 0, out.err
    df = pd.read_csv(tmp_path / "t.csv")
    assert set(df["variable"]) == {"age_acs:state", "sex:state", "race7:state", "educ7:state"}
    assert {"universe", "total"} <= set(df.columns)
    sums = df.groupby("variable")["total"].sum()
    assert np.allclose(sums, 30_527_864 + 22_963_044)
    back = Targets.read(tmp_path / "t.csv")
    assert back["race7:state"].universe.startswith("total population")
    code, out = cli(capsys, "targets", "list")
    assert "acs2023-state" in out.out and "age_acs" in out.out
    # the exported file rakes the raw persona file through the codebook
    raw = pd.read_csv(META, dtype=str, keep_default_na=False)
    raw[raw["state"].isin(["CA", "TX"])].to_csv(tmp_path / "p.csv", index=False)
    code, out = cli(capsys, "weight", tmp_path / "p.csv", "--codebook", "llm-simulation",
                    "--targets", tmp_path / "t.csv", "--method", "rake", "--out",
                    tmp_path / "w.csv")
    assert code == 0, out.err
    w = pd.read_csv(tmp_path / "w.csv")
    got = w.groupby(["educ7", "state"])["weight"].sum()
    want = df[df["variable"] == "educ7:state"].set_index("level")["total"]
    assert got[("Under 25", "TX")] == pytest.approx(want["Under 25:TX"], rel=1e-8)
    code, out = cli(capsys, "targets", "show", "acs2023-national", "--variables", "age6")
    assert code == 2 and "age_acs" in out.err


def test_old_module_path_keeps_builtin_codebooks_readable():
    # importing the first layout's path used to overwrite the package's __spec__, after which
    # importlib.resources saw no codebook files (only when test_layout ran first)
    import importlib

    import calib.data.codebooks as pkg

    assert importlib.import_module("calib.codebooks") is pkg
    assert pkg.__spec__.name == "calib.data.codebooks"
    assert {"llm-simulation", "personas"} <= set(Codebook.builtin_names())
