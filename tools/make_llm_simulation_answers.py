"""Write the hand-made answer and question fixtures of tests/fixtures/llm_simulation.

The files follow the seed pipeline's formats (LeonLixyz/LLM_Simulation; the column list and
spellings are in docs/personas.md); every answer is made up here, deterministically from the
persona's state and age band, so tests and the worked example get states that differ:

- ``questions_election.json``: one question file (the Election domain), with the 2024 question
  (A = Trump, B = Harris) and the 2020 one (A = Biden, B = Trump: letters are per question);
- ``questions_opinion.json``: an Opinion_QA question with three ordinal options, so the letter
  ``C`` is resolved from the question file (the rows carry only option_A / option_B);
- ``answers.csv``: the long answer file for ``meta_personas.csv`` (3 states x 50 personas),
  source ``Persona_Meta``, plus a few ``Persona_GPT_Based`` multi-turn rows (so ``--source``
  is needed), with ``INVALID/ABSTAIN`` rows and one unparseable decision.

Run from the repository root: ``python tools/make_llm_simulation_answers.py``.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

FIX = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "llm_simulation"
Q2024 = "Who do you support for the presidential election in 2024?"
Q2020 = "Who did you vote for in the presidential election in 2020?"
QMOVE = "How likely is it that you will move to a different community in the next 5 years?"
LEAN = {"CA": 0.62, "TX": 0.44, "VT": 0.66}  # made-up Democratic lean per state
OLD = {"55 to 59 years", "60 to 64 years", "65 to 74 years", "75 to 84 years",
       "85 years and over"}
COLUMNS = ["simulation_family", "persona_source", "multi_turn", "topic_index", "topic",
           "option_A", "option_B", "state", "persona_id", "persona_index", "decision",
           "decision_raw"]


def questions() -> None:
    election = {
        "topic_2": {"question_id": "2", "topic": Q2020,
                    "candidates": {"A": {"stance": "Joe Biden"}, "B": {"stance": "Donald Trump"}}},
        "topic_3": {"question_id": "3", "topic": Q2024,
                    "candidates": {"A": {"stance": "Donald Trump"},
                                   "B": {"stance": "Kamala Harris"}}},
    }
    opinion = {"topic_WILLMOVE_W32": {
        "question_id": "WILLMOVE_W32", "topic": QMOVE,
        "candidates": {"A": {"stance": "Very likely"}, "B": {"stance": "Somewhat likely"},
                       "C": {"stance": "Not at all likely"}}}}
    (FIX / "questions_election.json").write_text(json.dumps(election, indent=2) + "\n")
    (FIX / "questions_opinion.json").write_text(json.dumps(opinion, indent=2) + "\n")


def dem(state: str, index: int, age: str) -> bool:
    """A made-up Democratic vote: the state's lean, less for older personas."""
    share = LEAN[state] - (0.12 if age in OLD else 0.0)
    return (index * 37 % 100) / 100 < share


def rows() -> list[list[str]]:
    personas = list(csv.DictReader((FIX / "meta_personas.csv").open()))
    out: list[list[str]] = []
    for p in personas:
        st, i, age = p["state"], int(p["persona_index"]), p["AGE"]
        pid = f"{st}_{i:02d}"
        d = dem(st, i, age)
        base = [st, pid, str(i)]
        v24 = "B" if d else "A"
        raw24 = {"A": "a", "B": "B: Kamala Harris (current U.S. Vice President)"}[v24]
        if i % 25 == 7:  # about 4% non-response, as the pipeline's INVALID/ABSTAIN rows
            v24, raw24 = "INVALID/ABSTAIN", "neither a nor b."
        out.append(["Election", "Persona_Meta", "False", "3", Q2024, "Donald Trump",
                    "Kamala Harris", *base, v24, raw24])
        v20 = "A" if d else "B"
        if st == "TX" and i == 11:  # a decision that names no option of a two-option row
            v20 = "D"
        out.append(["Election", "Persona_Meta", "False", "2", Q2020, "Joe Biden",
                    "Donald Trump", *base, v20, v20.lower() + "."])
        mv = "ABC"[(i * 7) % 3] if age not in OLD else "C"
        out.append(["Opinion_QA", "Persona_Meta", "False", "WILLMOVE_W32", QMOVE, "Very likely",
                    "Somewhat likely", *base, mv, mv.lower()])
        if i < 5:  # another persona source, multi-turn: a file mixing sources needs --source
            out.append(["Election", "Persona_GPT_Based", "True", "3", Q2024, "Donald Trump",
                        "Kamala Harris", *base, "A" if i % 2 else "B", "b"])
    return out


def main() -> None:
    questions()
    with (FIX / "answers.csv").open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(COLUMNS)
        w.writerows(rows())


if __name__ == "__main__":
    main()
