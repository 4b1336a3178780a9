"""The keys a study file (``calib run study.toml``) may hold, their types and ranges.

A study file comes from someone else more often than a command line, so a misspelt key
(``method = [...]`` for ``methods``) must not be ignored while the defaults run: every table
has a fixed set of keys, each with a type and, for numbers, a range. :func:`check_study`
refuses anything else with a one-line :class:`~calib.core.errors.DataError` that names the
table, the key, the value and the fix. Keys added to the study format join :data:`SCHEMA`.

Examples
--------
>>> check_study({"analysis": {"methods": ["raw"], "level": 0.9}})
>>> check_study({"analysis": {"method": ["raw"]}})
Traceback (most recent call last):
...
calib.core.errors.DataError: study file: [analysis] has no key 'method'; the keys are outcome, human_outcome, llm_outcome, methods, variables, by, level, seed, options
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from calib.core.errors import DataError


@dataclass(frozen=True)
class Key:
    """One key: its kind (``str``, ``int``, ``float``, ``bool``, ``list`` of text, ``strs``
    (text or a list of text), ``table``, ``file``: a path to a file, ``any``: checked where it
    is used), and for numbers the closed range ``[low, high]``."""

    kind: str
    low: float | None = None
    high: float | None = None
    keys: Mapping[str, Key] | None = None  # a table's own keys (None: any)


_YEAR = Key("int", 1788, 2100)
_SEED = Key("int", 0, 2**63 - 1)
_LEVEL = Key("float", 0, 1)

#: table -> key -> :class:`Key`.
SCHEMA: dict[str, dict[str, Key]] = {
    "personas": {
        "simulate": Key("table", keys={
            "year": _YEAR, "per_state": Key("int", 1, 100_000),
            "persona_types": Key("list"), "response_shift": Key("table"), "skew": Key("table"),
            "effects": Key("table"), "human_n": Key("int", 0, 1_000_000),
            "human_llm_type": Key("str"), "seed": _SEED}),
        "path": Key("file"), "codebook": Key("str"), "human": Key("file"),
        "persona_type": Key("str"),
    },
    "analysis": {
        "outcome": Key("str"), "human_outcome": Key("str"), "llm_outcome": Key("str"),
        "methods": Key("list"), "variables": Key("list"), "by": Key("str"), "level": _LEVEL,
        "seed": _SEED, "options": Key("table"),
    },
    "benchmark": {
        "certified": _YEAR, "path": Key("file"), "column": Key("str"), "key": Key("str"),
    },
    "forecast": {
        "year": _YEAR, "fill_missing": Key("str"), "national_sd": Key("float", 0, 1),
        "draws": Key("int", 1, 1_000_000), "seed": _SEED, "level": _LEVEL,
        "backtest_year": _YEAR,
    },
    "outputs": {"dir": Key("str"), "report": Key("bool"), "overwrite": Key("bool")},
    # the settings of `calib mrp` (calib.studies.pipeline.mrp_options)
    "mrp": {
        "group": Key("list"), "fixed": Key("list"), "interaction": Key("strs"),
        "family": Key("str"), "missing": Key("str"), "gate": Key("str"), "centered": Key("any"),
        "draws": Key("int", 1, 1_000_000), "tune": Key("int", 0, 1_000_000),
        "chains": Key("int", 1, 64), "seed": _SEED, "sampler": Key("str"),
        "target_accept": Key("float", 0, 1), "domain_predictors": Key("any"),
    },
}

_WORDS = {"str": "text", "int": "a whole number", "float": "a number", "bool": "true or false",
          "list": "a list of text, e.g. [\"a\", \"b\"]", "table": "a table, e.g. { k = 1 }",
          "file": "the path of a file", "strs": "text or a list of text", "any": "a value"}


def check_study(cfg: Mapping[str, Any], where: str = "study file") -> None:
    """Refuse unknown tables and keys, values of the wrong type, numbers out of range and a
    folder given for a file, naming the table, the key, the value and the fix."""
    unknown = [t for t in cfg if t not in SCHEMA]
    if unknown:
        raise DataError(f"{where}: unknown table [{unknown[0]}]; the tables are "
                        + ", ".join(f"[{t}]" for t in SCHEMA))
    for table, body in cfg.items():
        if not isinstance(body, Mapping):
            raise DataError(f"{where}: [{table}] must be a table of keys, not {body!r}")
        _check_table(body, SCHEMA[table], f"[{table}]", where)


def _check_table(body: Mapping[str, Any], keys: Mapping[str, Key], name: str,
                 where: str) -> None:
    for k, v in body.items():
        if k not in keys:
            raise DataError(f"{where}: {name} has no key {k!r}; the keys are "
                            + ", ".join(keys))
        spec = keys[k]
        _check_value(v, spec, f"{name} {k}", where)
        if spec.kind == "table" and spec.keys is not None:
            _check_table(v, spec.keys, f"{name} {k}", where)


def _check_value(value: Any, spec: Key, name: str, where: str) -> None:
    v: Any = value  # one name, not narrowed by the isinstance checks below
    ok = {
        "str": isinstance(v, str), "file": isinstance(v, str), "bool": isinstance(v, bool),
        "int": isinstance(v, int) and not isinstance(v, bool),
        "float": isinstance(v, int | float) and not isinstance(v, bool),
        "list": isinstance(v, list | tuple) and all(isinstance(x, str) for x in v),
        "strs": isinstance(v, str) or (isinstance(v, list | tuple)
                                       and all(isinstance(x, str) for x in v)),
        "any": True,
        "table": isinstance(v, Mapping),
    }[spec.kind]
    if not ok:
        raise DataError(f"{where}: {name} = {v!r}: give {_WORDS[spec.kind]}")
    if spec.kind in ("int", "float"):
        low, high, x = spec.low, spec.high, float(value)
        if not math.isfinite(x) or (low is not None and x < low) or (
                high is not None and x > high):
            raise DataError(f"{where}: {name} = {v!r} is out of range; give a value from "
                            f"{low:g} to {high:g}")
    if spec.kind == "list" and not v:
        raise DataError(f"{where}: {name} is empty; name at least one")
    if spec.kind == "file" and Path(str(v)).is_dir():
        raise DataError(f"{where}: {name} = {v!r} is a folder; give the path of a file")


__all__ = ["SCHEMA", "Key", "check_study"]
