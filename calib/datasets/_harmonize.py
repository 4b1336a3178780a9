"""Apply a built-in TOML codebook (``calib/codebooks/<name>.toml``) to a shipped survey.

Uses :class:`calib.codebook.Codebook` when it is available; otherwise a minimal reader of the
same TOML format (``map`` / ``bins`` + ``labels`` / ``collapse``, ``missing``), so the TOML files
stay the one statement of every recode. Unmapped values raise
:class:`~calib.errors.UnmappedLevelError` listing each value with its count; missing values
(NA, empty text, or listed in ``missing``) become NA, never a level.
"""

from __future__ import annotations

import tomllib
from importlib import resources

import numpy as np
import pandas as pd

from ..cells import format_level
from ..errors import DataError, UnmappedLevelError
from ..variables import LEVELS, collapse_map


def codebook_text(name: str) -> str:
    """The TOML text of the built-in codebook ``name``."""
    node = resources.files("calib") / "codebooks" / f"{name}.toml"
    if not node.is_file():
        raise DataError(f"no built-in codebook {name!r} (calib/codebooks/{name}.toml)")
    return node.read_text(encoding="utf-8")


def harmonize(name: str, raw: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``raw`` plus the harmonized columns of codebook ``name``, and a report per target.

    The report has one row per recode: target, source, n, n_missing (NA after recoding).
    """
    try:
        from ..codebook import Codebook  # written in parallel; used once it exists
    except ImportError:
        Codebook = None
    if Codebook is not None:
        if hasattr(Codebook, "builtin"):
            book = Codebook.builtin(name)
        else:  # pragma: no cover - depends on the Codebook API
            with resources.as_file(resources.files("calib") / "codebooks" / f"{name}.toml") as p:
                book = Codebook.from_file(p)
        frame, _ = book.apply(raw)
        spec = tomllib.loads(codebook_text(name))
        return frame, _report(frame, spec)
    spec = tomllib.loads(codebook_text(name))
    frame = raw.copy()
    for rec in spec["recode"]:
        frame[rec["target"]] = _apply(frame, rec, name)
    return frame, _report(frame, spec)


def _report(frame: pd.DataFrame, spec: dict) -> pd.DataFrame:
    rows = [
        {"target": r["target"], "source": r["source"], "n": len(frame),
         "n_missing": int(frame[r["target"]].isna().sum())}
        for r in spec["recode"]
    ]  # fmt: skip
    return pd.DataFrame(rows)


def _apply(frame: pd.DataFrame, rec: dict, book: str) -> pd.Categorical:
    target, source = rec["target"], rec["source"]
    if source not in frame.columns:
        raise DataError(f"codebook {book!r}: recode {target!r} needs column {source!r}, absent")
    col = frame[source]
    text = pd.Series([None if pd.isna(v) else format_level(v) for v in col], index=col.index,
                     dtype=object)
    missing = text.isna() | (text.str.strip() == "") | text.isin([str(m) for m in
                                                                   rec.get("missing", [])])
    cats = list(LEVELS.get(target, rec.get("labels", [])))
    if "bins" in rec:
        num = pd.to_numeric(col.where(~missing), errors="coerce")
        bad = ~missing & num.isna()
        out = pd.cut(num, rec["bins"], right=False, labels=rec["labels"])
        bad |= ~missing & out.isna()
        values = out.astype(object)
    else:
        mapping = collapse_map(source, target) if rec.get("collapse") else rec["map"]
        values = text.map(mapping)
        bad = ~missing & values.isna()
    if bad.any():
        counts = text[bad].value_counts(dropna=False).to_dict()
        raise UnmappedLevelError(
            f"codebook {book!r}: {target!r} from {source!r}: values {counts} (value: count) "
            f"have no mapping; add them to the recode's map/bins or to its 'missing' list",
            {source: list(counts)},
        )
    values = values.where(~missing, None)
    unknown = set(values.dropna()) - set(cats)
    if unknown:
        raise UnmappedLevelError(
            f"codebook {book!r}: {target!r} gets levels {sorted(unknown)} that are not its "
            f"harmonized levels {cats}; fix the map",
            {target: sorted(unknown)},
        )
    return pd.Categorical(np.asarray(values, dtype=object), categories=cats)
