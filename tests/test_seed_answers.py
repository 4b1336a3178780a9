"""``calib answers``: the seed pipeline's answer and question files joined to its personas.

Fixtures: tests/fixtures/llm_simulation (answers.csv and the question files were written by
tools/make_llm_simulation_answers.py from the formats page; meta_personas.csv is the persona
set that answered). Expected counts are read off the fixture file itself, not calib's output.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pandas as pd
import pytest

from calib.cli.main import main
from calib.core.errors import DataError
from calib.data.answers import canonical_id, join_seed_answers, read_questions

FIX = Path(__file__).parent / "fixtures" / "llm_simulation"
META, ANSWERS = FIX / "meta_personas.csv", FIX / "answers.csv"
QFILES = [FIX / "questions_election.json", FIX / "questions_opinion.json"]


def cli(capsys, *args):
    code = main([str(a) for a in args])
    return code, capsys.readouterr()


def raw_rows(source="Persona_Meta"):
    return [r for r in csv.DictReader(ANSWERS.open()) if r["persona_source"] == source]


def test_cli_joins_letters_to_stances_and_counts_nonresponse(tmp_path, capsys):
    out = tmp_path / "j.csv"
    code, cap = cli(capsys, "answers", ANSWERS, "--personas", META, "--codebook",
                    "llm-simulation", "--questions", QFILES[0], "--questions", QFILES[1],
                    "--source", "Persona_Meta", "--out", out)
    assert code == 0, cap.err
    j = pd.read_csv(out, dtype=str, keep_default_na=False)
    assert list(j.columns[:8]) == ["persona_id", "persona_source", "multi_turn", "question",
                                   "topic", "letter", "answer", "status"]
    assert list(j.columns[8:11]) == ["age_acs", "sex", "race7"]  # codebook targets first
    rows = raw_rows()
    assert len(j) == len(rows)
    assert j["persona_id"].tolist() == [r["persona_id"] for r in rows]
    for r, (_, got) in zip(rows, j.iterrows(), strict=True):
        d = r["decision"]
        assert got["question"] == f"{r['simulation_family']}/{r['topic_index']}"
        assert got["letter"] == d
        if d == "INVALID/ABSTAIN":
            assert (got["status"], got["answer"]) == ("abstain", "")
        elif d == "C":  # only the question file knows C
            assert (got["status"], got["answer"]) == ("valid", "Not at all likely")
        elif d in ("A", "B"):
            assert (got["status"], got["answer"]) == ("valid", r[f"option_{d}"])
        else:
            assert (got["status"], got["answer"]) == ("invalid", "")
    # persona attributes come from the persona file
    people = pd.read_csv(META, dtype=str).set_index(["state", "persona_index"])
    one = j.iloc[5]
    assert one["SEX"] == people.loc[(one["state"], one["persona_index"]), "SEX"]
    n_abst = sum(r["decision"] == "INVALID/ABSTAIN" for r in rows if r["topic_index"] == "3")
    assert f"Election/3      150    {150 - n_abst}        0        {n_abst}" in cap.out


def test_estimate_runs_on_joined_as_is(tmp_path, capsys):
    out, est = tmp_path / "j.csv", tmp_path / "e.csv"
    code, cap = cli(capsys, "answers", ANSWERS, "--personas", META, "--codebook",
                    "llm-simulation", "--source", "Persona_Meta", "--question", "Election/3",
                    "--out", out)
    assert code == 0, cap.err
    code, cap = cli(capsys, "estimate", out, "--outcome", "answer", "--by", "question",
                    "--missing", "drop", "--out", est)
    assert code == 0, cap.err
    e = pd.read_csv(est)
    rows = [r for r in raw_rows() if r["topic_index"] == "3"]
    valid = [r for r in rows if r["decision"] in ("A", "B")]
    harris = sum(r["decision"] == "B" for r in valid) / len(valid)
    got = e[(e["level"] == "Kamala Harris") & (e["domain"] == "Election/3")]["estimate"].item()
    assert got == pytest.approx(harris, abs=1e-12)
    assert set(e["level"]) == {"Kamala Harris", "Donald Trump"}  # non-response never a level


def test_without_question_file_unknown_letters_are_invalid(tmp_path, capsys):
    out = tmp_path / "j.csv"
    code, _ = cli(capsys, "answers", ANSWERS, "--personas", META, "--source", "Persona_Meta",
                  "--question", "Opinion_QA/WILLMOVE_W32", "--out", out)
    assert code == 0
    j = pd.read_csv(out, dtype=str, keep_default_na=False)
    assert (j.loc[j["letter"] == "C", "status"] == "invalid").all()
    assert (j["letter"] == "C").sum() > 0


def test_several_sources_need_source(tmp_path, capsys):
    code, cap = cli(capsys, "answers", ANSWERS, "--personas", META, "--out", tmp_path / "j.csv")
    assert code == 2
    assert "--source" in cap.err and "Persona_GPT_Based" in cap.err
    code, cap = cli(capsys, "answers", ANSWERS, "--personas", META, "--source", "Nope",
                    "--out", tmp_path / "j.csv")
    assert code == 2 and "Nope" in cap.err


def test_ids_match_without_zero_padding():
    assert canonical_id("TX_05") == canonical_id("TX_5") == canonical_id("tx_005")
    people = pd.DataFrame({"state": ["TX"], "persona_index": ["5"]})
    a = pd.DataFrame({"simulation_family": "E", "persona_source": "P", "multi_turn": "False",
                      "topic_index": "1", "option_A": "x", "option_B": "y",
                      "persona_id": ["TX_05"], "decision": ["A"]})
    j, _ = join_seed_answers(people, a)
    assert j["answer"].tolist() == ["x"]


def test_repeated_answer_is_an_error():
    people = pd.DataFrame({"persona_id": ["TX_1"]})
    a = pd.DataFrame({"simulation_family": "E", "persona_source": "P",
                      "multi_turn": ["False", "False", "True"], "topic_index": "1",
                      "option_A": "x", "persona_id": ["TX_01", "TX_1", "TX_1"],
                      "decision": "A"})
    with pytest.raises(DataError, match="repeat a"):
        join_seed_answers(people, a)
    j, _ = join_seed_answers(people, a.iloc[1:])  # multi-turn and single-turn are distinct
    assert len(j) == 2


def test_missing_persona_error_or_drop(tmp_path, capsys):
    people = pd.read_csv(META, dtype=str)
    few = tmp_path / "few.csv"
    people[people["state"] != "VT"].to_csv(few, index=False)
    out = tmp_path / "j.csv"
    code, cap = cli(capsys, "answers", ANSWERS, "--personas", few, "--source", "Persona_Meta",
                    "--out", out)
    assert code == 2 and "VT_00" in cap.err and "--missing drop" in cap.err
    code, cap = cli(capsys, "answers", ANSWERS, "--personas", few, "--source", "Persona_Meta",
                    "--missing", "drop", "--out", out)
    assert code == 0, cap.err
    n_vt = sum(r["state"] == "VT" for r in raw_rows())
    assert f"dropped {n_vt} answers" in cap.out
    assert len(pd.read_csv(out)) == len(raw_rows()) - n_vt


def test_question_files():
    q = read_questions(QFILES)
    assert q["3"] == {"A": "Donald Trump", "B": "Kamala Harris"}
    assert q["2"]["A"] == "Joe Biden"  # letters are per question
    assert q["WILLMOVE_W32"]["C"] == "Not at all likely"


def test_json_output(tmp_path, capsys):
    code, cap = cli(capsys, "answers", ANSWERS, "--personas", META, "--source",
                    "Persona_GPT_Based", "--out", tmp_path / "j.csv", "--json")
    assert code == 0
    import json

    got = json.loads(cap.out)
    assert got["rows"] == len(raw_rows("Persona_GPT_Based"))
    assert got["counts"][0]["multi_turn"] == "True"
