"""calib.data.readers: readers by extension, the Tianyi-Lab/Personas long frame, answers joined."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from calib.core.errors import DataError
from calib.data.readers import (
    TianyiRead,
    join_answers,
    read_answers,
    read_personas,
    read_tianyi_personas,
)

FIX = Path(__file__).parent / "fixtures"
M1, M2 = "Llama-3.1-70B-Instruct", "Qwen2.5-72B-Instruct"


def test_tianyi_long_frame_every_type() -> None:
    got = read_tianyi_personas(FIX / "tianyi_personas.jsonl", errors="report")
    long, rep = got.frame, got.report
    assert got.to_frame() is long and got.n_personas == len(long) and got.n_empty == 1
    # 4 meta + 4 x 2 models x 3 types - 1 empty descriptive cell
    assert len(long) == 4 + 24 - 1
    assert long["persona_type"].value_counts().to_dict() == {
        "meta": 4, "objective": 8, "subjective": 8, "descriptive": 7}
    assert long["persona_id"].is_unique
    assert set(long["model"].dropna()) == {M1, M2}
    assert long.loc[long.persona_type == "meta", "model"].isna().all()
    assert rep.n_errors == 0 and int(rep.empty["empty"].sum()) == 1
    by = long.set_index("persona_id")
    s = by.loc[f"2:{M2}:subjective"]
    assert (s.AGE, s.EDUCATION, s.INCOME, s.IDEOLOGY, s.POLITICAL_VIEWS) == (
        "70", "Graduate Degree", "120k", "Very Conservative", "Republican")
    assert s["BIG_FIVE_SCORES.CONSCIENTIOUSNESS"] == "9"
    # a blank table field takes the meta value; meta_* keep the seed
    o = by.loc[f"3:{M1}:objective"]
    assert (o.AGE, o.STATE, o.meta_AGE) == ("20-24", "GA", "20-24")
    assert by.loc["4:meta"].RACE == "Asian"  # meta given as a dict, not a string
    d = by.loc[f"1:{M1}:descriptive"]
    assert d.description.startswith("Persona: Maria") and d.SEX == "Female"
    with pytest.warns(UserWarning, match="1 empty persona cells"):
        plain = read_tianyi_personas(FIX / "tianyi_personas.jsonl")
    # one result type in both modes: the same frame and counts without errors="report"
    assert isinstance(plain, TianyiRead) and isinstance(got, TianyiRead)
    pd.testing.assert_frame_equal(plain.frame, long)
    assert plain.n_empty == 1 and plain.n_errors == 0


@pytest.mark.filterwarnings("ignore:read_tianyi_personas. 1 empty")
def test_formats_agree(tmp_path: Path) -> None:
    raw = pd.read_json(FIX / "tianyi_personas.jsonl", lines=True, dtype=False)
    raw["meta_persona"] = [x if isinstance(x, str) else pd.io.json.ujson_dumps(x)
                           for x in raw["meta_persona"]]  # fmt: skip
    raw.to_csv(tmp_path / "p.csv", index=False)
    raw.to_parquet(tmp_path / "p.parquet")
    ref = read_personas(FIX / "tianyi_personas.jsonl")
    for name in ("p.csv", "p.parquet"):
        got = read_personas(tmp_path / name)
        assert got["persona_id"].tolist() == ref["persona_id"].tolist()
        assert got["INCOME"].tolist() == ref["INCOME"].tolist()
    flat = read_personas(tmp_path / "p.csv", layout="flat")
    assert len(flat) == 4 and "meta_persona" in flat


def test_reader_errors(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="file not found"):
        read_personas(tmp_path / "none.csv")
    (tmp_path / "x.xlsx").write_text("x")
    with pytest.raises(DataError, match="extension '.xlsx'"):
        read_personas(tmp_path / "x.xlsx")
    (tmp_path / "b.jsonl").write_text('{"a": 1}\n{"a": \n')
    with pytest.raises(DataError, match="line 2"):
        read_personas(tmp_path / "b.jsonl")


def test_malformed_json_named_or_reported() -> None:
    path = FIX / "tianyi_personas_malformed.jsonl"
    # rows are data rows numbered from 1 (the line after a header, or a JSONL's first line)
    with pytest.raises(DataError, match="row 2 \\(persona_number 2\\), column 'meta_persona'"):
        read_tianyi_personas(path)
    with pytest.warns(UserWarning, match="2 malformed"):
        got = read_tianyi_personas(path, errors="report")
    long, rep = got.frame, got.report
    assert rep.errors[["row", "column"]].values.tolist() == [
        [2, "meta_persona"], [1, f"{M1}_objective_table_persona"]]
    assert f"1:{M1}:objective" not in set(long["persona_id"])
    assert "2:meta" not in set(long["persona_id"])
    assert len(long) == 2 * 7 - 2 - 1  # two excluded cells, one empty descriptive
    assert "2 malformed cells excluded" in str(rep)


def test_join_answers_long_and_wide() -> None:
    personas = read_tianyi_personas(FIX / "tianyi_personas.jsonl", errors="report").frame
    answers = read_answers(FIX / "tianyi_answers.csv")
    joined, rep = join_answers(personas, answers, valid=["A", "B"])
    assert len(joined) == len(answers)
    assert joined["status"].value_counts().to_dict() == {
        "valid": 11, "abstain": 2, "invalid": 1, "missing": 1}
    c = rep.counts.set_index("question")
    assert c.loc["vote2024", ["answers", "valid", "invalid", "abstain", "missing"]].tolist() == [
        11, 8, 1, 2, 0]
    assert c.loc["vote2020", "missing"] == 1
    assert c.loc["vote2020", "personas_without_answer"] == len(personas) - 4
    assert rep.invalid.values.tolist() == [["vote2024", "C", 1]]
    assert joined.loc[joined.persona_id == "4:meta", "STATE"].tolist() == ["AZ", "AZ"]
    wide, _ = join_answers(personas, answers, valid={"vote2024": ["A", "B"],
                                                     "vote2020": ["A", "B"]}, wide=True)  # fmt: skip
    w = wide.set_index("persona_id")
    assert len(wide) == len(personas)
    assert w.loc["1:meta", "vote2024"] == "B" and w.loc["1:meta", "vote2020"] == "A"
    assert pd.isna(w.loc[f"3:{M2}:subjective", "vote2024"])  # invalid "C" -> NA, counted
    assert pd.isna(w.loc[f"1:{M2}:objective", "vote2024"])  # no answer


def test_join_answers_refuses_orphans_and_duplicates() -> None:
    personas = pd.DataFrame({"persona_id": ["a", "b"]})
    orphans = pd.DataFrame({"persona_id": ["a", "x", "y", "x"], "question": ["q", "q", "q", "r"],
                            "answer": "A"})  # fmt: skip
    with pytest.raises(DataError, match="3 answers .* \\['x', 'y'\\]"):
        join_answers(personas, orphans)
    dup = pd.DataFrame({"persona_id": ["a", "a"], "question": "q", "answer": ["A", "B"]})
    with pytest.raises(DataError, match="repeat a \\(persona, question\\)"):
        join_answers(personas, dup)
    with pytest.raises(DataError, match="not unique"):
        join_answers(pd.DataFrame({"persona_id": ["a", "a"]}), dup.head(1))
