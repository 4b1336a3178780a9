"""The seed pipeline's answer and question files (LeonLixyz/LLM_Simulation), joined to personas.

The pipeline writes one long CSV per run: ``simulation_family, persona_source, multi_turn,
topic_index, topic, option_A, option_B, state, persona_id, persona_index, decision,
decision_raw``, where ``decision`` is a letter (``A``, ``B``, ...) or ``INVALID/ABSTAIN``, and
the letters are per question (in the 2024 question A is Trump, in the 2020 one A is Biden).
Question files are JSON, ``{"topic_3": {"question_id": "3", "topic": ..., "candidates": {"A":
{"stance": ...}, ...}}}``. :func:`join_seed_answers` turns the letters into the stances they
stand for and joins each answer to its persona with :func:`calib.data.readers.join_answers`,
so the result can be estimated by question (``calib estimate JOINED --outcome answer --by
question --missing drop``).

Rules (docs/personas.md):

- the question id is ``<simulation_family>/<topic_index>`` (``Election/3``);
- a persona file without ``persona_id`` names its personas ``<state>_<persona_index>``, and ids
  compare after stripping zero padding (``TX_05`` = ``TX_5``) and case;
- a letter becomes the row's ``option_<letter>`` or, where the row has none, the question
  file's stance; ``INVALID/ABSTAIN`` is an abstention and a decision naming no option is
  invalid: both are non-response, counted per question, never a candidate;
- a file with several ``persona_source`` values needs ``sources=`` (a persona file answers for
  one source); a repeated ``(persona_source, multi_turn, question, persona_id)`` is an error.

Examples
--------
>>> p = pd.DataFrame({"state": ["TX", "TX"], "persona_index": [5, 12], "sex": ["Male", "Female"]})
>>> a = pd.DataFrame({"simulation_family": "Election", "persona_source": "Persona_Meta",
...                   "multi_turn": False, "topic_index": 3, "topic": "2024 vote",
...                   "option_A": "Donald Trump", "option_B": "Kamala Harris",
...                   "persona_id": ["TX_05", "TX_12"], "decision": ["B", "INVALID/ABSTAIN"]})
>>> joined, rep = join_seed_answers(p, a)
>>> joined[["persona_id", "question", "answer", "status", "sex"]].values.tolist()
[['TX_05', 'Election/3', 'Kamala Harris', 'valid', 'Male'], ['TX_12', 'Election/3', '', 'abstain', 'Female']]
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, cast

import numpy as np
import pandas as pd

from calib.core.cells import format_level
from calib.core.errors import DataError
from calib.data.readers import join_answers, read_table

#: The columns of an answer file of the seed pipeline (``persona_id`` may be replaced by
#: ``state`` and ``persona_index``; ``topic``, the options and ``decision_raw`` are optional).
SEED_ANSWER_COLUMNS: tuple[str, ...] = (
    "simulation_family", "persona_source", "multi_turn", "topic_index", "topic", "option_A",
    "option_B", "state", "persona_id", "persona_index", "decision", "decision_raw",
)  # fmt: skip
#: The columns every answer file must have.
REQUIRED = ("simulation_family", "persona_source", "multi_turn", "topic_index", "decision")
#: The columns of the joined table, before the persona attributes.
JOINED_COLUMNS: tuple[str, ...] = (
    "persona_id", "persona_source", "multi_turn", "question", "topic", "letter", "answer",
    "status",
)  # fmt: skip
#: Decisions that are abstentions (case-insensitive); other non-letters are invalid.
SEED_ABSTAIN: tuple[str, ...] = ("INVALID/ABSTAIN", "ABSTAIN", "INVALID")
_ID = re.compile(r"^(.*?)[_\-](\d+)$")
_LETTER = re.compile(r"^[A-Za-z]$")
_INVALID = "\x00invalid:"  # a prefix no stance has: keeps an unparseable decision invalid


def canonical_id(value: object) -> str | None:
    """A persona id for matching: the state part upper case, the index without zero padding.

    >>> canonical_id("TX_05"), canonical_id("tx_5"), canonical_id("TX_123"), canonical_id("12:meta")
    ('TX_5', 'TX_5', 'TX_123', '12:meta')
    """
    if value is None or (not isinstance(value, str) and bool(pd.isna(value))):  # pyright: ignore[reportArgumentType, reportCallIssue]
        return None
    text = format_level(value).strip()
    m = _ID.match(text)
    return f"{m.group(1).upper()}_{int(m.group(2))}" if m else text or None


def persona_ids(personas: pd.DataFrame, *, id: str = "persona_id") -> pd.Series:  # noqa: A002
    """The personas' ids: the ``id`` column, else ``<state>_<persona_index>`` (``state``, else
    ``STATE_ABBR``), as given (not canonical).

    >>> persona_ids(pd.DataFrame({"STATE_ABBR": ["GA"], "persona_index": [3]})).tolist()
    ['GA_3']
    """
    if id in personas.columns:
        return personas[id].map(lambda v: None if pd.isna(v) else format_level(v))
    state = next((c for c in ("state", "STATE_ABBR") if c in personas.columns), None)
    if state is None or "persona_index" not in personas.columns:
        raise DataError(
            f"personas have no {id!r} column and no state + persona_index to build it from "
            f"(columns: {list(personas.columns)[:15]}); add a {id!r} column"
        )
    return pd.Series(
        [f"{format_level(s).strip()}_{format_level(i).strip()}"
         for s, i in zip(personas[state], personas["persona_index"], strict=True)],
        index=personas.index, dtype=object,
    )  # fmt: skip


def read_questions(paths: Iterable[str | Path]) -> dict[str, dict[str, str]]:
    """Read question files: ``{question_id: {letter: stance}}`` (``question_id`` is the
    ``topic_index`` of the answer rows). The same id in two files with different stances is
    an error.

    >>> import tempfile, os
    >>> p = os.path.join(tempfile.mkdtemp(), "q.json")
    >>> _ = open(p, "w").write('{"topic_3": {"question_id": "3", "topic": "2024", '
    ...     '"candidates": {"A": {"stance": "Donald Trump"}, "B": {"stance": "Kamala Harris"}}}}')
    >>> read_questions([p])
    {'3': {'A': 'Donald Trump', 'B': 'Kamala Harris'}}
    """
    out: dict[str, dict[str, str]] = {}
    for path in paths:
        try:
            data = json.loads(Path(path).read_text())
        except (OSError, ValueError) as err:
            raise DataError(f"question file {str(path)!r}: {err}") from None
        if not isinstance(data, Mapping):
            raise DataError(f"question file {str(path)!r}: expected a JSON object of topics")
        for key, q in data.items():
            if not isinstance(q, Mapping) or not isinstance(q.get("candidates"), Mapping):
                raise DataError(f"question file {str(path)!r}: {key!r} has no 'candidates'")
            qid = format_level(q.get("question_id", str(key).removeprefix("topic_"))).strip()
            stances = {str(k).strip().upper(): _stance(v) for k, v in q["candidates"].items()}
            if qid in out and out[qid] != stances:
                raise DataError(
                    f"question {qid!r} has different candidates in two question files "
                    f"({out[qid]} and {stances}); pass the files of one domain"
                )
            out[qid] = stances
    return out


def _stance(value: object) -> str:
    return str(value.get("stance", "")).strip() if isinstance(value, Mapping) else str(value)


@dataclass(frozen=True)
class SeedAnswerReport:
    """What :func:`join_seed_answers` counted.

    Attributes
    ----------
    counts : DataFrame ``persona_source, multi_turn, question, answers, valid, invalid,
        abstain, personas_without_answer`` (non-response per question).
    invalid : DataFrame ``question, decision, rows`` of the decisions that name no option.
    dropped : answers dropped because their persona is missing (``missing="drop"``).
    dropped_ids : the first of those persona ids.
    """

    counts: pd.DataFrame
    invalid: pd.DataFrame
    dropped: int = 0
    dropped_ids: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        text = "answers per question:\n" + self.counts.to_string(index=False)
        if self.dropped:
            text += (f"\ndropped {self.dropped} answers whose persona is missing "
                     f"(first ids: {self.dropped_ids})")
        return text


def _text(values: pd.Series) -> pd.Series:
    return values.map(lambda v: "" if v is None or (not isinstance(v, str) and pd.isna(v))
                      else format_level(v).strip())


def _checked(answers: pd.DataFrame, sources: Sequence[str] | None,
             question_ids: Sequence[str] | None) -> pd.DataFrame:
    """The answer rows kept: columns checked, ``question`` built, sources and questions chosen."""
    need = [c for c in REQUIRED if c not in answers.columns]
    if "persona_id" not in answers.columns:
        need += [c for c in ("state", "persona_index") if c not in answers.columns]
    if need:
        raise DataError(
            f"answer file lacks columns {need} (columns: {list(answers.columns)[:15]}); the "
            f"seed pipeline's columns are {list(SEED_ANSWER_COLUMNS)}"
        )
    a = answers.reset_index(drop=True)
    src = _text(a["persona_source"])
    found = sorted(set(src))
    if sources:
        unknown = sorted(set(sources) - set(found))
        if unknown:
            raise DataError(f"--source {unknown}: not in the answer file (sources: {found})")
        a, src = a[src.isin(sources).to_numpy()], src[src.isin(sources)]
    elif len(found) > 1:
        raise DataError(
            f"the answer file holds {len(found)} persona sources {found}; a persona file "
            "answers for one: choose it with --source (sources=)"
        )
    out = pd.DataFrame({
        "persona_id": (_text(a["persona_id"]) if "persona_id" in a.columns else
                       _text(a["state"]) + "_" + _text(a["persona_index"])),
        "persona_source": src.to_numpy(),
        "multi_turn": _text(a["multi_turn"]).to_numpy(),
        "question": (_text(a["simulation_family"]) + "/" + _text(a["topic_index"])).to_numpy(),
        "topic_index": _text(a["topic_index"]).to_numpy(),
        "topic": _text(a["topic"]).to_numpy() if "topic" in a.columns else "",
        "letter": _text(a["decision"]).to_numpy(),
    })
    for c in a.columns:
        if re.fullmatch(r"option_[A-Za-z]", str(c)):
            out[f"option_{str(c)[-1].upper()}"] = _text(a[c]).to_numpy()
    if question_ids:
        unknown = sorted(set(question_ids) - set(out["question"]))
        if unknown:
            raise DataError(f"--question {unknown}: not in the answer file (questions: "
                            f"{sorted(set(out['question']))[:20]})")
        out = out[out["question"].isin(question_ids)]
    return out.reset_index(drop=True)


def _tokens(a: pd.DataFrame, questions: Mapping[str, Mapping[str, str]]) -> tuple[np.ndarray, dict]:
    """Per row the answer token for :func:`join_answers` (the stance, an abstention, or an
    invalid marker) and the stances valid per question."""
    abstain = {s.casefold() for s in SEED_ABSTAIN}
    tokens, valid = [], {}
    for i in range(len(a)):
        row, q = a.iloc[i], a["question"].iat[i]
        valid.setdefault(q, set())
        d = row["letter"]
        stance = ""
        if _LETTER.match(d):
            stance = row.get(f"option_{d.upper()}", "") or ""
            if not stance:
                stance = questions.get(row["topic_index"], {}).get(d.upper(), "")
        if d.casefold() in abstain:
            tokens.append("Invalid/Abstain")
        elif stance:
            tokens.append(stance)
            valid[q].add(stance)
        else:
            tokens.append(_INVALID + d)
    return np.array(tokens, dtype=object), {k: sorted(v) for k, v in valid.items()}


def _missing_personas(a: pd.DataFrame, known: set[str], missing: str) -> tuple[pd.DataFrame,
                                                                               int, list[str]]:
    ids = a["persona_id"].map(canonical_id)
    orphan = ~ids.isin(known)
    if not orphan.any():
        return a, 0, []
    first = list(dict.fromkeys(a.loc[orphan, "persona_id"]))[:10]
    if missing == "error":
        raise DataError(
            f"{int(orphan.sum())} answers name personas not in the persona file (first ids: "
            f"{first}); read the matching persona file, or pass --missing drop (missing='drop') "
            "to drop and count them"
        )
    return a[~orphan.to_numpy()].reset_index(drop=True), int(orphan.sum()), first


def join_seed_answers(
    personas: pd.DataFrame,
    answers: pd.DataFrame,
    *,
    questions: Mapping[str, Mapping[str, str]] | None = None,
    sources: Sequence[str] | None = None,
    question_ids: Sequence[str] | None = None,
    missing: Literal["error", "drop"] = "error",
    attributes: Sequence[str] = (),
) -> tuple[pd.DataFrame, SeedAnswerReport]:
    """Join a seed-pipeline answer file to its personas (one row per answer).

    Parameters
    ----------
    personas : one row per persona (``persona_id``, or ``state``/``STATE_ABBR`` and
        ``persona_index``), usually recoded with the ``llm-simulation`` codebook.
    answers : the long answer file (:data:`SEED_ANSWER_COLUMNS`).
    questions : ``{topic_index: {letter: stance}}`` (:func:`read_questions`), for letters
        the row's option columns do not give.
    sources : the ``persona_source`` values to keep; required when the file has several.
    question_ids : keep only these questions (``<simulation_family>/<topic_index>``).
    missing : an answer whose persona is not in ``personas``: ``"error"`` (naming the ids) or
        ``"drop"`` (counted in the report).
    attributes : persona columns to put first after the answer columns (e.g. the codebook's
        targets); the other persona columns follow.

    Returns
    -------
    (DataFrame, SeedAnswerReport)
        the columns :data:`JOINED_COLUMNS` (``letter`` = the raw decision, ``answer`` = the
        stance or empty for non-response, ``status`` = valid / invalid / abstain), then the
        persona columns.

    Raises
    ------
    DataError
        missing columns, several sources without ``sources``, an unknown source or question,
        a repeated (persona_source, multi_turn, question, persona_id), duplicate persona ids,
        or (``missing="error"``) answers whose persona is missing.
    """
    if missing not in ("error", "drop"):
        raise DataError(f"missing={missing!r}: use 'error' or 'drop'")
    a = _checked(answers, sources, question_ids)
    key = a[["persona_source", "multi_turn", "question"]].assign(
        id=a["persona_id"].map(canonical_id))
    dup = key.duplicated()
    if dup.any():
        ex = key[dup].head(5).astype(str).agg("/".join, axis=1).tolist()
        raise DataError(
            f"{int(dup.sum())} answers repeat a (persona_source, multi_turn, question, "
            f"persona_id) (e.g. {ex}); keep one answer per persona and question"
        )
    pid = persona_ids(personas).map(canonical_id)
    a, dropped, dropped_ids = _missing_personas(a, set(pid.dropna()), missing)
    tokens, valid = _tokens(a, questions or {})
    people = personas.drop(columns=["persona_id"], errors="ignore").assign(_pid=pid.to_numpy())
    parts, counts, invalid = [], [], []
    groups = a.groupby(["persona_source", "multi_turn"], sort=True).groups
    for key, idx in groups.items():
        src, turn = cast(tuple[Any, Any], key)
        sub = pd.DataFrame({"_pid": a.loc[idx, "persona_id"].map(canonical_id),
                            "question": a.loc[idx, "question"], "answer": tokens[idx],
                            "_row": idx})  # fmt: skip
        joined, rep = join_answers(people, sub, id="_pid",
                                   valid={q: valid[q] for q in sub["question"].unique()})
        parts.append(joined)
        counts.append(rep.counts.assign(persona_source=src, multi_turn=turn))
        invalid.append(rep.invalid)
    return _assemble(a, parts, personas, attributes), _report(counts, invalid, dropped,
                                                              dropped_ids)


def _assemble(a: pd.DataFrame, parts: list[pd.DataFrame], personas: pd.DataFrame,
              attributes: Sequence[str]) -> pd.DataFrame:
    """The joined table in the answer file's row order: answer columns, then personas'."""
    cols = [c for c in personas.columns if c != "persona_id"]
    first = [c for c in attributes if c in cols]
    rest = [c for c in cols if c not in first and c not in JOINED_COLUMNS]
    if not parts:
        return pd.DataFrame(columns=[*JOINED_COLUMNS, *first, *rest])
    j = pd.concat(parts, ignore_index=True).sort_values("_row", kind="stable")
    status = j["status"].replace({"missing": "invalid"}).to_numpy()
    rows = a.loc[j["_row"].to_numpy()]
    out = pd.DataFrame({
        "persona_id": rows["persona_id"].to_numpy(),
        "persona_source": rows["persona_source"].to_numpy(),
        "multi_turn": rows["multi_turn"].to_numpy(),
        "question": rows["question"].to_numpy(),
        "topic": rows["topic"].to_numpy(),
        "letter": rows["letter"].to_numpy(),
        "answer": np.where(status == "valid", j["answer"].to_numpy(), ""),
        "status": status,
    })
    for c in [*first, *rest]:
        out[c] = j[c].to_numpy()
    return out


def _report(counts: list[pd.DataFrame], invalid: list[pd.DataFrame], dropped: int,
            dropped_ids: list[str]) -> SeedAnswerReport:
    cols = ["persona_source", "multi_turn", "question", "answers", "valid", "invalid",
            "abstain", "personas_without_answer"]
    if counts:
        c = pd.concat(counts, ignore_index=True)
        c["invalid"] = c["invalid"] + c["missing"]
        c = c[cols]
    else:
        c = pd.DataFrame(columns=cols)
    inv = pd.concat(invalid, ignore_index=True) if invalid else pd.DataFrame(
        columns=["question", "answer", "rows"])
    inv = inv.assign(decision=inv["answer"].astype(str).str.removeprefix(_INVALID))
    inv = inv.groupby(["question", "decision"], sort=True)["rows"].sum().reset_index()
    return SeedAnswerReport(c, inv, dropped, dropped_ids)


def read_seed_answers(path: str | Path) -> pd.DataFrame:
    """Read a seed-pipeline answer file (CSV, TSV, Parquet, JSONL) and check its columns."""
    frame = read_table(path)
    need = [c for c in REQUIRED if c not in frame.columns]
    if need:
        raise DataError(
            f"answer file {str(path)!r} lacks columns {need} (columns: "
            f"{list(frame.columns)[:15]}); the seed pipeline's columns are "
            f"{list(SEED_ANSWER_COLUMNS)}"
        )
    return frame


__all__ = [
    "JOINED_COLUMNS",
    "REQUIRED",
    "SEED_ABSTAIN",
    "SEED_ANSWER_COLUMNS",
    "SeedAnswerReport",
    "canonical_id",
    "join_seed_answers",
    "persona_ids",
    "read_questions",
    "read_seed_answers",
]
