"""Codebook: TOML format, validation, recoding, unmapped listing, built-in personas codebook."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from calib.core.errors import CalibError, DataError, UnmappedLevelError
from calib.data.codebook import Codebook, parse_number
from calib.data.readers import read_tianyi_personas
from calib.data.variables import LEVELS

FIX = Path(__file__).parent / "fixtures"


def _book(*recodes: dict, name: str = "t") -> Codebook:
    return Codebook.from_dict({"name": name, "recode": list(recodes)})


def test_from_file_and_bins_right_open(tmp_path: Path) -> None:
    p = tmp_path / "b.toml"
    p.write_text(
        'name = "b"\n[[recode]]\ntarget = "age6"\nsource = "Age"\n'
        "bins = [18, 30, 40, 50, 60, 70, 200]\n"
        'labels = ["18-29", "30-39", "40-49", "50-59", "60-69", "70+"]\nmissing = ["-9"]\n'
    )
    book = Codebook.from_file(p)
    out, rep = book.apply(pd.DataFrame({"Age": [18, 29.9, 30, 69, 70, 199, -9, None]}))
    assert out["age6"].tolist()[:6] == ["18-29", "18-29", "30-39", "60-69", "70+", "70+"]
    assert out["age6"].isna().tolist()[6:] == [True, True]
    assert list(out["age6"].cat.categories) == list(LEVELS["age6"])
    assert rep.missing == {"age6": 2}
    # a value outside the bin range is unmapped, with its count
    with pytest.raises(UnmappedLevelError) as ei:
        book.apply(pd.DataFrame({"Age": [17, 17, 200, 40]}))
    assert ei.value.unmapped == {"age6": {"17": 2, "200": 1}}


def test_map_ignore_case_numeric_keys_default_and_tokens() -> None:
    book = _book(
        {"target": "sex", "source": "g", "map": {"1": "Male", "female": "Female"},
         "ignore_case": True},
        {"target": "insurance", "source": "ins", "map": {"None": "Uninsured", "Private": "Ins"},
         "default": "Ins"},
    )  # fmt: skip
    df = pd.DataFrame({"g": [1.0, "FEMALE", " Female ", "refused"],
                       "ins": ["None", "Public", "Private", None]})  # fmt: skip
    out, rep = book.apply(df)
    assert out["sex"].tolist()[:3] == ["Male", "Female", "Female"]
    assert pd.isna(out["sex"].iloc[3])  # a missing token, not a key
    # "None" is a map key here, so it is mapped, not missing; "Public" takes the default
    assert out["insurance"].tolist()[:3] == ["Uninsured", "Ins", "Ins"]
    assert list(out["insurance"].cat.categories) == ["Uninsured", "Ins"]
    tab = rep.to_frame()
    assert set(tab.columns) == {"target", "source", "kind", "value", "level", "rows"}
    row = tab[(tab.target == "sex") & (tab.value == "FEMALE")]
    assert row["rows"].tolist() == [1] and row["level"].tolist() == ["Female"]
    assert "sex <- g (map): 1 missing" in str(rep)


def test_every_unmapped_value_listed_across_recodes() -> None:
    book = _book(
        {"target": "sex", "source": "g", "map": {"M": "Male", "F": "Female"}},
        {"target": "race4", "source": "r", "map": {"W": "White"}},
    )
    df = pd.DataFrame({"g": ["M", "X", "X", "Y"], "r": ["W", "B", "H", "H"]})
    with pytest.raises(UnmappedLevelError) as ei:
        book.apply(df)
    assert ei.value.unmapped == {"sex": {"X": 2, "Y": 1}, "race4": {"B": 1, "H": 2}}
    msg = str(ei.value)
    assert "'X' (2 rows)" in msg and "'Y' (1 row)" in msg and "'H' (2 rows)" in msg
    assert "missing" in msg and "map" in msg  # says how to fix


def test_collapse_keep_and_chained_targets() -> None:
    book = _book(
        {"target": "race7", "source": "r", "keep": True, "ignore_case": True},
        {"target": "race4", "source": "race7", "collapse": True},
        {"target": "state", "source": "st", "keep": True},
        {"target": "region", "source": "state", "collapse": True},
    )
    out, _ = book.apply(pd.DataFrame({"r": ["asian", "Hispanic"], "st": ["TX", "OH"]}))
    assert out["race4"].tolist() == ["Other", "Hispanic"]
    assert out["region"].tolist() == ["South", "Midwest"]
    with pytest.raises(UnmappedLevelError, match="'Texas' \\(1 row\\)"):
        book.apply(pd.DataFrame({"r": ["White"], "st": ["Texas"]}))


@pytest.mark.parametrize(
    ("recode", "match"),
    [
        ({"target": "sex", "source": "g", "map": {"m": "male"}}, "not a level of harmonized"),
        ({"target": "sex", "source": "g", "mapp": {"m": "Male"}}, "unknown keys \\['mapp'\\]"),
        ({"target": "age4", "source": "a", "bins": [18, 30, 200], "labels": ["18-29"]},
         "1 labels for 2 bins"),
        ({"target": "age4", "source": "a", "bins": [30, 18], "labels": ["18-29"]},
         "strictly increasing"),
        ({"target": "sex", "source": "g"}, "exactly one of"),
        ({"target": "sex", "source": "g", "map": {"m": "Male"}, "keep": True}, "exactly one of"),
        ({"target": "x", "source": "g", "collapse": True}, "collapse needs harmonized"),
    ],
)
def test_invalid_codebooks_are_refused(recode: dict, match: str) -> None:
    with pytest.raises(CalibError, match=match):
        _book(recode)


def test_band_split_refused_naming_schemes_that_fit() -> None:
    # age10 -> age6 would split 35-44 (and others); age10 nests in age4
    with pytest.raises(UnmappedLevelError, match="age4"):
        _book({"target": "age6", "source": "age10", "collapse": True})
    with pytest.raises(UnmappedLevelError, match="split.*age4"):
        _book({"target": "age6", "source": "age10", "map": {"35-44": "30-39"}})
    with pytest.raises(UnmappedLevelError, match="covers"):
        _book({"target": "age4", "source": "a", "bins": [18, 35, 200],
               "labels": ["18-29", "65+"]})  # fmt: skip


def test_absent_source_and_optional(tmp_path: Path) -> None:
    book = _book(
        {"target": "sex", "source": "g", "map": {"M": "Male"}},
        {"target": "educ5", "source": "e", "map": {"BA": "4-Year College"}, "optional": True},
        {"target": "educ3", "source": "educ5", "collapse": True, "optional": True},
    )
    out, rep = book.apply(pd.DataFrame({"g": ["M"]}))
    assert "educ5" not in out and rep.skipped == ("educ5 <- e", "educ3 <- educ5")
    with pytest.raises(DataError, match="'g'"):
        book.apply(pd.DataFrame({"e": ["BA"]}))
    with pytest.raises(DataError, match="file not found"):
        Codebook.from_file(tmp_path / "nope.toml")
    (tmp_path / "bad.toml").write_text("name = \n")
    with pytest.raises(DataError, match="not valid TOML"):
        Codebook.from_file(tmp_path / "bad.toml")
    with pytest.raises(DataError, match="available"):
        Codebook.builtin("nope")


def test_parse_number() -> None:
    assert parse_number("$1,000,000") == 1e6
    assert parse_number("52k") == 52000
    assert parse_number(" 45000 per year") == 45000
    for bad in ("$40,000-$50,000", "about 40000", "1,00", "forty"):
        assert parse_number(bad) != parse_number(bad)  # NaN


def test_builtin_names() -> None:
    names = Codebook.builtin_names()
    assert {"personas", "anes2020", "cces2018", "gss"} <= set(names)
    for n in names:
        assert Codebook.builtin(n).name == n


def test_personas_codebook_on_fixture() -> None:
    long = read_tianyi_personas(FIX / "tianyi_personas.jsonl", errors="report").frame
    book = Codebook.builtin("personas")
    # the fixture holds three values outside the schema's categories: all listed, with counts
    with pytest.raises(UnmappedLevelError) as ei:
        book.apply(long)
    assert ei.value.unmapped == {
        "educ5": {"Associate's Degree": 2},
        "income5": {"$95,000 - $105,000": 2},
        "pid3": {"Libertarian": 1},
    }
    fixed = long.assign(
        EDUCATION=long["EDUCATION"].replace({"Associate's Degree": "Some College"}),
        INCOME=long["INCOME"].replace({"$95,000 - $105,000": "$100,000"}),
        POLITICAL_VIEWS=long["POLITICAL_VIEWS"].replace({"Libertarian": "Other"}),
    )
    out, rep = book.apply(fixed)
    by_id = out.set_index("persona_id")
    p1 = by_id.loc["1:Llama-3.1-70B-Instruct:subjective"]
    assert (p1.age10, p1.age4, p1.sex, p1.race7, p1.race4) == (
        "30-34", "30-44", "Female", "Hispanic", "Hispanic")
    assert (p1.state, p1.region, p1.educ5, p1.educ3) == ("TX", "South", "4-Year College",
                                                          "College degree")
    assert (p1.income5, p1.ideo5, p1.ideo3, p1.pid3) == ("25-50k", "Liberal", "Liberal",
                                                          "Democrat")
    q = by_id.loc["1:Qwen2.5-72B-Instruct:objective"]  # "Texas", AGE 33, INCOME 52000
    assert (q.state, q.age10, q.income5, q.educ5) == ("TX", "30-34", "50-100k", "Some college")
    o = by_id.loc["2:Qwen2.5-72B-Instruct:subjective"]  # "120k", Very Conservative
    assert (o.age10, o.age4, o.income5, o.ideo5, o.ideo3, o.pid3) == (
        "65-74", "65+", "100-150k", "Very conservative", "Conservative", "Republican")
    assert by_id.loc["4:Llama-3.1-70B-Instruct:objective"].income5 == "150k+"
    assert by_id.loc["3:Llama-3.1-70B-Instruct:objective"].income5 == "<25k"
    # meta and descriptive rows have no table fields: NA, counted
    assert pd.isna(by_id.loc["1:meta"].educ5)
    n_no_table = int((out["persona_type"].isin(["meta", "descriptive"])).sum())
    assert rep.missing["educ5"] == n_no_table
    assert rep.missing["pid3"] == n_no_table + 8 + 2  # objective rows + two "Other"
    assert rep.missing["sex"] == 0 and rep.missing["state"] == 0
    for col in ("age10", "age4", "sex", "race7", "race4", "state", "region", "educ5", "pid3"):
        assert list(out[col].cat.categories) == list(LEVELS[col])
    assert list(out["income5"].cat.categories) == ["<25k", "25-50k", "50-100k", "100-150k",
                                                   "150k+"]
