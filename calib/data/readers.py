"""Read persona files and the answers LLMs gave in their voice.

* :func:`read_personas` -- a flat persona file (CSV, Parquet, JSONL/NDJSON, JSON records), by
  extension; a file in the Tianyi-Lab/Personas layout is turned into the long frame of
  :func:`read_tianyi_personas`; with ``codebook=`` the attributes are recoded at once.
* :func:`read_tianyi_personas` -- the seed paper's dataset (one row per meta persona, three
  LLM-written personas per model as JSON strings and text) to a LONG frame with one row per
  persona: ``persona_id, persona_number, persona_type, model`` and the parsed attributes.
* :func:`read_answers` / :func:`join_answers` -- (persona id, question, answer) files joined
  to the personas, with invalid answers and abstentions counted per question.

See docs/personas.md for the schema.

Examples
--------
>>> import json, pandas as pd
>>> raw = pd.DataFrame({
...     "persona_number": [1],
...     "meta_persona": [json.dumps({"AGE": "30-34", "SEX": "Female", "RACE": "Asian",
...                                  "STATE": "TX"})],
...     "M_objective_table_persona": [json.dumps({"AGE": "32", "EDUCATION": "Bachelor's"})],
...     "M_subjective_table_persona": [json.dumps({"AGE": "32", "IDEOLOGY": "Liberal"})],
...     "M_descriptive_persona": ["Persona: Mei, 32, a nurse in Houston."]})
>>> long = read_tianyi_personas(raw).frame
>>> long[["AGE", "STATE", "EDUCATION"]].iloc[1].tolist()
['32', 'TX', "Bachelor's"]
>>> long["persona_type"].tolist()
['meta', 'objective', 'subjective', 'descriptive']
"""

from __future__ import annotations

import ast
import json
import re
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, overload

import numpy as np
import pandas as pd

from calib.core.cells import format_level
from calib.core.errors import DataError
from calib.data.codebook import Codebook
from calib.data.tables import read_table

if TYPE_CHECKING:
    from calib.data.codebook import Codebook, CodebookReport

#: How :func:`read_personas` reads the file's columns.
PersonaLayout = Literal["auto", "flat", "tianyi"]

#: Models of the Tianyi-Lab/Personas dataset (column prefixes).
TIANYI_MODELS: tuple[str, ...] = (
    "Llama-3.1-8B-Instruct", "Llama-3.1-70B-Instruct", "Athene-70B",
    "Mixtral-8x7B-Instruct-v0.1", "Nemotron-70B-Instruct", "Qwen2.5-72B-Instruct",
)  # fmt: skip
#: Persona types, in output order.
PERSONA_TYPES: tuple[str, ...] = ("meta", "objective", "subjective", "descriptive")
#: Attributes of the meta persona (filled into LLM personas that lack them).
META_FIELDS: tuple[str, ...] = ("AGE", "SEX", "RACE", "STATE")
_SUFFIX = {
    "objective": "_objective_table_persona",
    "subjective": "_subjective_table_persona",
    "descriptive": "_descriptive_persona",
}
#: Answers counted as abstentions by :func:`join_answers` (compared case-insensitively).
ABSTAIN: tuple[str, ...] = (
    "Don't know", "Dont know", "Refused", "Invalid/Abstain", "Abstain", "No answer",
    "Skipped", "Prefer not to say", "DK",
)  # fmt: skip


# ---------------------------------------------------------------------------- flat files
@overload
def read_personas(
    path: str | Path, *, codebook: None = None, layout: PersonaLayout = ...
) -> pd.DataFrame: ...
@overload
def read_personas(
    path: str | Path, *, codebook: Codebook | str | Path, layout: PersonaLayout = ...
) -> tuple[pd.DataFrame, CodebookReport]: ...
def read_personas(
    path: str | Path,
    *,
    codebook: Codebook | str | Path | None = None,
    layout: PersonaLayout = "auto",
) -> pd.DataFrame | tuple[pd.DataFrame, CodebookReport]:
    """Read a persona file (CSV, Parquet, JSONL) and optionally recode it.

    Parameters
    ----------
    path : file path; the extension picks the reader (``.csv``, ``.tsv``, ``.parquet``,
        ``.jsonl`` / ``.ndjson``, ``.json`` records; ``.gz`` for text formats).
    codebook : None, a :class:`~calib.data.codebook.Codebook`, a built-in codebook name
        (``"personas"``) or a path to a TOML codebook.
    layout : ``"auto"`` (Tianyi-Lab layout when a ``meta_persona`` column is present),
        ``"flat"`` (as stored) or ``"tianyi"`` (:func:`read_tianyi_personas`).

    Returns
    -------
    DataFrame, or ``(DataFrame, CodebookReport)`` when ``codebook`` is given.

    Examples
    --------
    >>> import tempfile, os
    >>> p = os.path.join(tempfile.mkdtemp(), "p.csv")
    >>> _ = open(p, "w").write("id,SEX,AGE\\n1,Male,30-34\\n2,female,71\\n")
    >>> from calib.data.codebook import Codebook
    >>> book = Codebook.builtin("personas").select(["sex", "age4"])
    >>> frame, report = read_personas(p, codebook=book)
    >>> frame["sex"].tolist(), frame["age4"].tolist()
    (['Male', 'Female'], ['30-44', '65+'])
    """
    if layout not in ("auto", "flat", "tianyi"):
        raise DataError(f"layout={layout!r}: use 'auto', 'flat' or 'tianyi'")
    frame: pd.DataFrame = read_table(path)
    if layout == "tianyi" or (layout == "auto" and "meta_persona" in frame.columns):
        frame = read_tianyi_personas(frame).frame
    if codebook is None:
        return frame

    if isinstance(codebook, str | Path) and not isinstance(codebook, Codebook):
        text = str(codebook)
        book = Codebook.from_file(text) if text.endswith(".toml") else Codebook.builtin(text)
    elif isinstance(codebook, Codebook):
        book = codebook
    else:
        raise DataError(f"codebook={codebook!r}: give a Codebook, a built-in name or a .toml path")
    return book.apply(frame)


# ---------------------------------------------------------------------------- Tianyi layout
@dataclass(frozen=True)
class PersonaReadReport:
    """What :func:`read_tianyi_personas` parsed, skipped and excluded.

    Attributes
    ----------
    rows : input rows read.
    personas : output personas per (persona_type, model).
    empty : personas skipped because the cell was empty (model wrote nothing), per
        (persona_type, model).
    errors : DataFrame ``row, persona_number, column, error`` of malformed cells (excluded).
    """

    rows: int
    personas: pd.DataFrame
    empty: pd.DataFrame
    errors: pd.DataFrame = field(default_factory=pd.DataFrame)

    @property
    def n_errors(self) -> int:
        """Malformed cells excluded."""
        return len(self.errors)

    @property
    def n_empty(self) -> int:
        """Empty persona cells skipped."""
        return int(self.empty["empty"].sum()) if len(self.empty) else 0

    def __str__(self) -> str:
        lines = [
            f"read {self.rows} rows -> {int(self.personas['personas'].sum())} personas; "
            f"{self.n_empty} empty cells skipped; "
            f"{self.n_errors} malformed cells excluded"
        ]
        for _, r in self.errors.head(20).iterrows():
            lines.append(
                f"  row {r['row']} (persona_number {r['persona_number']}), "
                f"column {r['column']!r}: {r['error']}"
            )
        if self.n_errors > 20:
            lines.append(f"  ... and {self.n_errors - 20} more (report.errors)")
        return "\n".join(lines)


_PREFIX = re.compile(r"^\s*(?:persona\s*:)?\s*(?:```(?:json)?)?\s*", re.IGNORECASE)
_FENCE = re.compile(r"\s*```\s*$")


def _parse_json_cell(value: object) -> dict | None:
    """A persona JSON cell to a dict; None for an empty cell; raises ValueError if malformed."""
    if isinstance(value, Mapping):
        return dict(value)
    if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA:
        return None
    if not isinstance(value, str):
        raise ValueError(f"expected a JSON string or dict, got {type(value).__name__}")
    text = value.strip()
    if not text:
        return None
    text = _FENCE.sub("", _PREFIX.sub("", text, count=1))
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as err:
        try:  # a Python dict literal (str(dict) written to CSV)
            obj = ast.literal_eval(text) if text.startswith("{") else None
        except (ValueError, SyntaxError):
            obj = None
        if obj is None:
            raise ValueError(f"not valid JSON ({err.msg} at char {err.pos})") from None
    if not isinstance(obj, dict):
        raise ValueError(f"JSON is a {type(obj).__name__}, not an object of attributes")
    return obj


def _flatten(obj: Mapping, prefix: str = "") -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for k, v in obj.items():
        key = f"{prefix}{str(k).strip()}"
        if isinstance(v, Mapping):
            out.update(_flatten(v, key + "."))
        elif v is None:
            out[key] = None
        elif isinstance(v, list):
            out[key] = json.dumps(v, ensure_ascii=False)
        else:
            out[key] = format_level(v).strip()
    return out


def _models_of(columns: Sequence[str]) -> list[str]:
    found: dict[str, None] = {}
    for c in columns:
        for suf in _SUFFIX.values():
            if c.endswith(suf) and len(c) > len(suf):
                found[c[: -len(suf)]] = None
    known = [m for m in TIANYI_MODELS if m in found]
    return known + [m for m in found if m not in known]


@dataclass(frozen=True)
class TianyiRead:
    """What :func:`read_tianyi_personas` returns: the long frame and its read report.

    Attributes
    ----------
    frame : the LONG frame, one row per persona (see :func:`read_tianyi_personas`).
    report : :class:`PersonaReadReport` -- personas per type and model, empty cells skipped,
        malformed cells excluded (none in ``errors="raise"`` mode: those raise).

    Examples
    --------
    >>> import json, pandas as pd
    >>> raw = pd.DataFrame({"persona_number": [1, 2], "meta_persona": [
    ...     json.dumps({"AGE": "30-34", "SEX": "Female"}), json.dumps({"AGE": "50-54"})]})
    >>> got = read_tianyi_personas(raw, types=["meta"])
    >>> got.to_frame()["persona_id"].tolist(), got.n_personas, got.n_errors
    (['1:meta', '2:meta'], 2, 0)
    """

    frame: pd.DataFrame
    report: PersonaReadReport

    @property
    def n_personas(self) -> int:
        """Personas in the frame."""
        return len(self.frame)

    @property
    def n_empty(self) -> int:
        """Empty persona cells skipped (a model wrote nothing)."""
        return self.report.n_empty

    @property
    def n_errors(self) -> int:
        """Malformed cells excluded (``errors="report"`` only)."""
        return self.report.n_errors

    def to_frame(self) -> pd.DataFrame:
        """The long frame, one row per persona."""
        return self.frame

    def __str__(self) -> str:
        return str(self.report)


def read_tianyi_personas(
    path_or_frame: str | Path | pd.DataFrame,
    *,
    models: Sequence[str] | None = None,
    types: Sequence[str] = PERSONA_TYPES,
    errors: Literal["raise", "report"] = "raise",
) -> TianyiRead:
    """Tianyi-Lab/Personas rows to a LONG frame, one row per persona, with a read report.

    Parameters
    ----------
    path_or_frame : a file (see :func:`read_table`) or a DataFrame with ``persona_number``,
        ``meta_persona`` (dict or JSON string with AGE, SEX, RACE, STATE) and per model
        ``<model>_objective_table_persona`` / ``<model>_subjective_table_persona`` (JSON
        strings) and ``<model>_descriptive_persona`` (text).
    models : models to read (default: every model with columns, in the schema's order).
    types : persona types to produce (subset of meta, objective, subjective, descriptive).
    errors : ``"raise"`` (a malformed JSON cell raises, naming the row and column) or
        ``"report"`` (malformed cells are excluded, listed in ``report.errors`` and warned of).

    Returns
    -------
    :class:`TianyiRead` (in both ``errors`` modes): ``.frame`` (or ``.to_frame()``) is the
    long DataFrame with ``persona_id`` (``"<n>:meta"``, ``"<n>:<model>:<type>"``),
    ``persona_number``, ``persona_type``, ``model`` (NA for meta), one text column per parsed
    attribute (nested objects flattened as ``BIG_FIVE_SCORES.OPENNESS``; meta attributes fill
    in where an LLM persona lacks them), ``meta_AGE`` ... ``meta_STATE`` (the seed values, to
    check drift) and ``description`` (the descriptive text); ``.report`` is the
    :class:`PersonaReadReport`. Empty cells (a model wrote nothing) give no persona and are
    counted (a warning in ``"raise"`` mode).
    """
    if errors not in ("raise", "report"):
        raise DataError(f"errors={errors!r}: use 'raise' or 'report'")
    bad_types = [t for t in types if t not in PERSONA_TYPES]
    if bad_types:
        raise DataError(f"persona types {bad_types} unknown; use some of {list(PERSONA_TYPES)}")
    raw = path_or_frame if isinstance(path_or_frame, pd.DataFrame) else read_table(path_or_frame)
    specs = _tianyi_specs(raw, models, types)
    cells = _CellParser(raw, errors)
    meta = cells.parse("meta_persona")
    meta_flat = [(_flatten(m) if isinstance(m, dict) else {}) for m in meta]
    blocks: list[pd.DataFrame] = []
    counts: list[dict] = []
    empties: list[dict] = []
    for ptype, model in specs:
        parsed = _parsed_cells(raw, cells, ptype, model, meta)
        if not parsed:
            continue
        block = _persona_block(parsed, ptype, model, meta_flat, order=len(blocks))
        blocks.append(block)
        n_empty = sum(1 for p in parsed if p is None)
        empties.append({"persona_type": ptype, "model": model, "empty": n_empty})
        counts.append({"persona_type": ptype, "model": model, "personas": len(block)})
    long = _long_frame(blocks, cells.numbers, meta_flat)
    report = PersonaReadReport(
        rows=len(raw),
        personas=pd.DataFrame(counts, columns=["persona_type", "model", "personas"]),
        empty=pd.DataFrame(empties, columns=["persona_type", "model", "empty"]),
        errors=pd.DataFrame(cells.errors, columns=["row", "persona_number", "column", "error"]),
    )
    if errors == "report" and report.n_errors:
        warnings.warn(
            f"read_tianyi_personas: {report.n_errors} malformed cells excluded "
            "(see report.errors)",
            stacklevel=2,
        )
    elif errors == "raise" and report.n_empty:
        warnings.warn(
            f"read_tianyi_personas: {report.n_empty} empty persona cells skipped (no persona "
            "produced); pass errors='report' for counts per type and model",
            stacklevel=2,
        )
    return TianyiRead(long, report)


def _tianyi_specs(
    raw: pd.DataFrame, models: Sequence[str] | None, types: Sequence[str]
) -> list[tuple[str, str | None]]:
    """The (persona type, model) pairs to read, in output order; checks layout and models."""
    need = [c for c in ("persona_number", "meta_persona") if c not in raw.columns]
    if need:
        raise DataError(
            f"not the Tianyi-Lab/Personas layout: columns {need} are missing (columns: "
            f"{list(raw.columns)[:12]}...); use read_personas(..., layout='flat') for flat files"
        )
    available = _models_of(list(raw.columns))
    models = list(available if models is None else models)
    unknown = [m for m in models if m not in available]
    if unknown:
        raise DataError(f"models {unknown} have no persona columns; available: {available}")
    specs: list[tuple[str, str | None]] = []
    if "meta" in types:
        specs.append(("meta", None))
    for m in models:
        specs.extend((t, m) for t in ("objective", "subjective", "descriptive") if t in types)
    return specs


class _CellParser:
    """Parses JSON cells column by column; raises on a malformed cell or collects it."""

    def __init__(self, raw: pd.DataFrame, errors: str) -> None:
        self.raw = raw
        self.mode = errors
        self.numbers = raw["persona_number"].to_numpy()
        self.errors: list[dict] = []

    def parse(self, col: str) -> list[dict | None]:
        out: list[dict | None] = []
        for i, v in enumerate(self.raw[col].tolist()):
            try:
                out.append(_parse_json_cell(v))
            except ValueError as err:
                if self.mode == "raise":
                    raise DataError(
                        f"row {i + 1} (persona_number {format_level(self.numbers[i])}), column "
                        f"{col!r}: {err}. Fix the cell, or pass errors='report' to exclude such "
                        "cells and list them"
                    ) from None
                self.errors.append({"row": i + 1, "persona_number": self.numbers[i], "column": col,
                                    "error": str(err)})  # fmt: skip
                out.append(_BAD)
        return out


def _parsed_cells(
    raw: pd.DataFrame, cells: _CellParser, ptype: str, model: str | None, meta: list
) -> list[Any]:
    """One persona type of one model, a cell per row ([] when the model lacks the column)."""
    if ptype == "meta":
        return meta
    col = f"{model}{_SUFFIX[ptype]}"
    if col not in raw.columns:
        return []
    if ptype == "descriptive":
        return [_text_cell(v) for v in raw[col].tolist()]
    return cells.parse(col)


def _persona_block(
    parsed: list[Any], ptype: str, model: str | None, meta_flat: list[dict], *, order: int
) -> pd.DataFrame:
    """The personas of one (type, model): attributes over the meta ones, row and order keys."""
    rows_idx = [i for i, p in enumerate(parsed) if p is not None and p is not _BAD]
    recs: list[dict] = []
    for i in rows_idx:
        attrs = dict(meta_flat[i]) if ptype != "meta" else {}
        if ptype == "descriptive":
            attrs["description"] = parsed[i]
        else:
            # an LLM attribute replaces the meta one unless it is blank
            for k, v in _flatten(parsed[i]).items():
                if (v is not None and v != "") or k not in attrs:
                    attrs[k] = v
        recs.append(attrs)
    block = pd.DataFrame.from_records(recs) if recs else pd.DataFrame(index=range(0))
    block.insert(0, "_row", np.asarray(rows_idx, dtype=np.int64))
    block.insert(1, "_order", order)
    block.insert(2, "persona_type", ptype)
    block.insert(3, "model", model)
    return block


def _long_frame(
    blocks: list[pd.DataFrame], numbers: np.ndarray, meta_flat: list[dict]
) -> pd.DataFrame:
    """The blocks stacked by input row then block order, with ids, meta_* and text columns."""
    long = pd.concat(blocks, ignore_index=True, sort=False) if blocks else pd.DataFrame()
    long = long.sort_values(["_row", "_order"], kind="stable").reset_index(drop=True)
    rows = long.pop("_row").to_numpy()
    long.pop("_order")
    long.insert(0, "persona_number", numbers[rows])
    num_text = [format_level(x) for x in numbers[rows]]
    ids = [
        f"{n}:meta" if t == "meta" else f"{n}:{m}:{t}"
        for n, t, m in zip(num_text, long["persona_type"], long["model"], strict=True)
    ]
    long.insert(0, "persona_id", ids)
    long["model"] = long["model"].astype("str")
    for f in META_FIELDS:
        long[f"meta_{f}"] = pd.array([meta_flat[r].get(f) for r in rows], dtype="str")
    keys = ("persona_id", "persona_number", "persona_type", "model")
    for c in [c for c in long.columns if c not in keys]:
        if long[c].dtype == object:
            long[c] = long[c].astype("str")
    if "description" in long.columns:
        long = long[[c for c in long.columns if c != "description"] + ["description"]]
    if long["persona_id"].duplicated().any():
        dup = long.loc[long["persona_id"].duplicated(), "persona_id"].head(5).tolist()
        raise DataError(
            f"persona_number is not unique: persona ids {dup} repeat; give each row its own "
            "persona_number"
        )
    return long


class _Bad:
    def __repr__(self) -> str:  # pragma: no cover
        return "<malformed>"


_BAD: Any = _Bad()


def _text_cell(value: object) -> str | None:
    if value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value)):
        return None
    text = str(value).strip()
    return text or None


# ---------------------------------------------------------------------------- answers
def read_answers(
    path: str | Path,
    *,
    id: str = "persona_id",
    question: str = "question",
    answer: str = "answer",
) -> pd.DataFrame:
    """Read an answers file (persona id, question, answer) and check its columns.

    >>> import tempfile, os
    >>> p = os.path.join(tempfile.mkdtemp(), "a.csv")
    >>> _ = open(p, "w").write("persona_id,question,answer\\n1:meta,vote2024,A\\n")
    >>> read_answers(p)["answer"].tolist()
    ['A']
    """
    frame = read_table(path)
    need = [c for c in (id, question, answer) if c not in frame.columns]
    if need:
        raise DataError(
            f"answers file {str(path)!r} lacks columns {need} (columns: {list(frame.columns)}); "
            "pass id=, question=, answer= to name them"
        )
    return frame


@dataclass(frozen=True)
class AnswerReport:
    """Counts of :func:`join_answers` per question.

    Attributes
    ----------
    counts : DataFrame ``question, answers, valid, invalid, abstain, missing,
        personas_without_answer``.
    invalid : DataFrame ``question, answer, rows`` of the invalid answer values.
    """

    counts: pd.DataFrame
    invalid: pd.DataFrame

    def __str__(self) -> str:
        return "answers per question:\n" + self.counts.to_string(index=False)


def _norm(values: pd.Series) -> pd.Series:
    return pd.Series(
        [None if pd.isna(v) else format_level(v).strip() for v in values],
        index=values.index,
        dtype="string",
    )


def join_answers(
    personas: pd.DataFrame,
    answers: pd.DataFrame,
    *,
    id: str = "persona_id",
    question: str = "question",
    answer: str = "answer",
    valid: Sequence[str] | Mapping[str, Sequence[str]] | None = None,
    abstain: Sequence[str] = ABSTAIN,
    wide: bool = False,
) -> tuple[pd.DataFrame, AnswerReport]:
    """Join answers to their personas; count invalid answers and abstentions per question.

    Parameters
    ----------
    personas : one row per persona, with a unique ``id`` column.
    answers : one row per (persona, question).
    valid : allowed answers, for all questions (a list) or per question (a dict); others are
        invalid. None: every non-abstaining answer is valid.
    abstain : answers counted as abstentions (case-insensitive).
    wide : False (default): the long frame, one row per answer, persona columns joined and a
        ``status`` column (valid / invalid / abstain / missing). True: one row per persona,
        one column per question holding the VALID answers (others NA, counted in the report).

    Raises
    ------
    DataError
        an answer whose persona id is not among the personas (count and first ids), duplicate
        persona ids, or two answers of one persona to one question.

    Examples
    --------
    >>> p = pd.DataFrame({"persona_id": ["a", "b", "c"], "state": ["TX", "TX", "OH"]})
    >>> a = pd.DataFrame({"persona_id": ["a", "b", "c"], "question": "q1",
    ...                   "answer": ["A", "Refused", "Z"]})
    >>> joined, rep = join_answers(p, a, valid=["A", "B"])
    >>> joined["status"].tolist()
    ['valid', 'abstain', 'invalid']
    >>> rep.counts[["valid", "invalid", "abstain"]].iloc[0].tolist()
    [1, 1, 1]
    """
    for name, frame, cols in (("personas", personas, [id]),
                              ("answers", answers, [id, question, answer])):  # fmt: skip
        need = [c for c in cols if c not in frame.columns]
        if need:
            raise DataError(
                f"{name} lack columns {need} (columns: {list(frame.columns)[:15]}); pass id=, "
                "question=, answer= to name them"
            )
    pid, aid = _checked_ids(_norm(personas[id]), _norm(answers[id]), id)
    q = _norm(answers[question])
    if q.isna().any():
        raise DataError(f"answers: {int(q.isna().sum())} rows have no {question!r}")
    key = pd.DataFrame({"id": aid, "q": q})
    dups = key.duplicated()
    if dups.any():
        ex = key[dups].head(5).apply(lambda r: f"{r['id']}/{r['q']}", axis=1).tolist()
        raise DataError(
            f"{int(dups.sum())} answers repeat a (persona, question) pair (e.g. {ex}); keep one "
            "answer per persona and question"
        )
    ans = _norm(answers[answer])
    abst = {a.strip().casefold() for a in abstain}
    is_abst = np.array([a is not pd.NA and a.casefold() in abst for a in ans], dtype=bool)
    is_missing = ans.isna().to_numpy()
    if valid is None:
        is_valid = ~is_abst & ~is_missing
    else:
        is_valid = _allowed(ans, q, valid) & ~is_abst
    status = np.where(
        is_missing, "missing", np.where(is_abst, "abstain", np.where(is_valid, "valid", "invalid"))
    )
    report = _answer_report(q, ans, status, key, n_personas=len(pid))
    if wide:
        kept = pd.DataFrame({"_id": aid.to_numpy(), "q": q.to_numpy(),
                             "a": ans.where(pd.Series(is_valid, index=ans.index))})  # fmt: skip
        table = kept.pivot(index="_id", columns="q", values="a")
        clash = [c for c in table.columns if c in personas.columns]
        if clash:
            raise DataError(
                f"questions {clash} have the names of persona columns; rename the questions"
            )
        out = personas.copy()
        for c in table.columns:
            out[c] = table[c].reindex(pid.to_numpy()).to_numpy()
        return out, report
    left = answers.copy()
    left["status"] = status
    right = personas.copy()
    right["_id"] = pid.to_numpy()
    left["_id"] = aid.to_numpy()
    clash = [c for c in right.columns if c in left.columns and c not in ("_id", id)]
    if clash:
        right = right.drop(columns=clash)
        warnings.warn(
            f"join_answers: persona columns {clash} also in the answers; the answers' kept",
            stacklevel=2,
        )
    out = left.merge(right.drop(columns=[id]), on="_id", how="left", validate="many_to_one")
    return out.drop(columns="_id"), report


def _checked_ids(pid: pd.Series, aid: pd.Series, id: str) -> tuple[pd.Series, pd.Series]:  # noqa: A002
    """The persona ids (present, unique) and the answers' ids (each among the personas)."""
    if pid.isna().any():
        raise DataError(f"personas: {int(pid.isna().sum())} rows have no {id!r}; give each an id")
    if pid.duplicated().any():
        dup = pid[pid.duplicated()].unique()[:5].tolist()
        raise DataError(
            f"personas: {id!r} is not unique ({int(pid.duplicated().sum())} repeats, e.g. "
            f"{dup}); one row per persona is needed"
        )
    known = aid.isin(set(pid.dropna()))
    if not known.all():
        orphans = aid[~known]
        first = orphans.unique()[:10].tolist()
        raise DataError(
            f"{int((~known).sum())} answers have a {id!r} not among the personas (first ids: "
            f"{first}); read the matching persona file or fix the ids"
        )
    return pid, aid


def _allowed(
    ans: pd.Series, q: pd.Series, valid: Sequence[str] | Mapping[str, Sequence[str]]
) -> np.ndarray:
    """Whether each answer is among its question's allowed answers (one list or per question)."""
    if isinstance(valid, Mapping):
        absent_q = sorted(set(q.unique()) - set(map(str, valid)))
        if absent_q:
            raise DataError(f"valid= names no answers for questions {absent_q}; add them to the dict")
        allowed = {str(k): {format_level(x).strip() for x in v} for k, v in valid.items()}
    else:
        allowed = {qq: {format_level(x).strip() for x in valid} for qq in q.unique()}
    return np.array(
        [(a is not pd.NA) and a in allowed[qq] for a, qq in zip(ans, q, strict=True)],
        dtype=bool,
    )


def _answer_report(
    q: pd.Series, ans: pd.Series, status: np.ndarray, key: pd.DataFrame, *, n_personas: int
) -> AnswerReport:
    """Counts per question and status, personas without an answer, invalid values."""
    tab = pd.DataFrame({"question": q.to_numpy(), "status": status})
    counts = (
        tab.groupby(["question", "status"], sort=True).size().unstack(fill_value=0)
        .reindex(columns=["valid", "invalid", "abstain", "missing"], fill_value=0)
    )  # fmt: skip
    counts.insert(0, "answers", counts.sum(axis=1))
    answered = key.groupby("q")["id"].nunique()
    counts["personas_without_answer"] = n_personas - answered.reindex(counts.index).to_numpy()
    counts = counts.reset_index().rename_axis(columns=None)
    counts[counts.columns[1:]] = counts[counts.columns[1:]].astype("int64")
    inv = pd.DataFrame({"question": q.to_numpy(), "answer": ans.to_numpy()})[status == "invalid"]
    invalid = (
        inv.groupby(["question", "answer"], sort=True).size().rename("rows").reset_index()
        if len(inv) else pd.DataFrame(columns=["question", "answer", "rows"])
    )  # fmt: skip
    return AnswerReport(counts, invalid)


__all__ = [
    "ABSTAIN",
    "AnswerReport",
    "META_FIELDS",
    "PERSONA_TYPES",
    "PersonaReadReport",
    "TIANYI_MODELS",
    "TianyiRead",
    "join_answers",
    "read_answers",
    "read_personas",
    "read_table",
    "read_tianyi_personas",
]
