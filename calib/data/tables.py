"""The one reader of user tables: :func:`read_table` (CSV, TSV, Parquet, JSONL, JSON records).

Every path that reads a table a user gives (the CLI, :func:`calib.data.readers.read_personas`,
answers files, study files, the out-of-core engines' in-memory path, forecast estimates)
reads it here, so one file gives one frame whatever the path:

* CSV and TSV: every column is text and only an empty cell is missing
  (:func:`calib.core.util.read_csv_text`): a code ``"01"`` stays ``"01"`` and matches a
  target level ``"01"``; ``"NA"`` is the text ``"NA"``. The columns a caller uses as numbers
  (weights, numeric auxiliaries, outcomes, estimates) are converted by :func:`to_numeric`,
  which names the first value that is not a number.
* Parquet and JSON keep their own types (the file says what is a number and what is null).

Examples
--------
>>> import tempfile, pathlib
>>> p = pathlib.Path(tempfile.mkdtemp()) / "t.csv"
>>> _ = p.write_text("code,w\\n01,1.5\\nNA,\\n")
>>> f = read_table(p)
>>> f["code"].tolist(), to_numeric(f, "w", "weight").tolist()
(['01', 'NA'], [1.5, nan])
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from calib.core.errors import DataError, MissingFileError
from calib.core.util import read_csv_text

#: File extensions :func:`read_table` reads, and the format of each (``.txt``: CSV, as the
#: command line has always accepted). Text formats may also end in ``.gz``, ``.bz2``,
#: ``.zst`` or ``.xz``.
EXTENSIONS = {
    ".csv": "csv", ".txt": "csv", ".tsv": "tsv", ".parquet": "parquet", ".pq": "parquet",
    ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "json",
}  # fmt: skip
_COMPRESSED = (".gz", ".bz2", ".zst", ".xz")


def table_kind(path: str | Path, what: str = "file") -> str:
    """The format of ``path`` by extension: ``csv``, ``tsv``, ``parquet``, ``jsonl``, ``json``.

    Examples
    --------
    >>> table_kind("a.csv.gz"), table_kind("b.pq")
    ('csv', 'parquet')
    """
    path = Path(path)
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] in _COMPRESSED and len(suffixes) > 1:
        suffixes = suffixes[:-1]
    ext = suffixes[-1] if suffixes else ""
    if ext not in EXTENSIONS:
        raise DataError(
            f"{what} {str(path)!r}: extension {ext or '(none)'!r} is not one of "
            f"{sorted(EXTENSIONS)}; convert the file to CSV, Parquet or JSONL"
        )
    if EXTENSIONS[ext] == "parquet" and path.suffixes[-1].lower() != ext:
        raise DataError(f"{what} {str(path)!r}: compressed Parquet is not supported")
    return EXTENSIONS[ext]


def read_table(path: str | Path, what: str = "file") -> pd.DataFrame:
    """Read a CSV / TSV / Parquet / JSONL / JSON-records file into a DataFrame, by extension.

    CSV and TSV columns are text, only empty cells missing (see the module docstring);
    Parquet and JSON keep their types. The index is a fresh RangeIndex in file order.

    Parameters
    ----------
    path : the file.
    what : how error messages name the file (``"INPUT"``, ``"--reference"``, ...).

    Raises
    ------
    DataError
        The file does not exist, its extension is unknown, it cannot be parsed, or a JSON
        line is malformed (the message names the line).

    Examples
    --------
    >>> import tempfile, os
    >>> d = tempfile.mkdtemp(); p = os.path.join(d, "x.jsonl")
    >>> _ = open(p, "w").write('{"a": 1}\\n{"a": 2}\\n')
    >>> read_table(p)["a"].tolist()
    [1, 2]
    """
    p = Path(path)
    if not p.is_file():
        raise MissingFileError(p, what)
    kind = table_kind(p, what)
    if kind == "jsonl":
        return _read_jsonl(p)
    try:
        if kind in ("csv", "tsv"):
            frame = read_csv_text(p, sep="\t" if kind == "tsv" else ",")
        elif kind == "parquet":
            frame = pd.read_parquet(p, engine="pyarrow")
        else:
            frame = pd.read_json(p, orient="records", dtype=False)
    except DataError:  # already names the file and the fix (a duplicate column name)
        raise
    except (ValueError, OSError, pd.errors.ParserError) as err:
        raise DataError(f"{what} {str(p)!r} could not be read as {kind} ({err}); check the "
                        "file") from None
    return frame.reset_index(drop=True)


def _read_jsonl(p: Path) -> pd.DataFrame:
    import gzip

    opener = gzip.open if p.suffix.lower() == ".gz" else open
    records: list[dict] = []
    with opener(p, "rt", encoding="utf-8") as fh:
        for i, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except json.JSONDecodeError as err:
                raise DataError(
                    f"{str(p)!r} line {i}: not valid JSON ({err.msg} at column {err.colno}); "
                    "fix or remove the line"
                ) from None
            if not isinstance(rec, dict):
                raise DataError(f"{str(p)!r} line {i}: a JSON object per line is needed")
            records.append(rec)
    return pd.DataFrame.from_records(records)


def to_numeric(frame: pd.DataFrame, column: str, what: str) -> pd.Series:
    """Column ``column`` as float; text that is not a number raises naming the value.

    Missing values (an empty CSV cell) stay NaN; ``"NA"`` or ``"abc"`` are refused.

    Examples
    --------
    >>> to_numeric(pd.DataFrame({"w": ["1.5", None]}), "w", "--base-weight").tolist()
    [1.5, nan]
    >>> to_numeric(pd.DataFrame({"w": ["1", "NA"]}), "w", "weight")
    Traceback (most recent call last):
    ...
    calib.core.errors.DataError: weight: column 'w' has 1 non-numeric values (first 'NA' in row 2); fix or blank them
    """
    col = frame[column]
    if pd.api.types.is_numeric_dtype(col.dtype) and not pd.api.types.is_bool_dtype(col.dtype):
        return col.astype(float)
    num = pd.to_numeric(col, errors="coerce")
    bad = num.isna() & col.notna()
    if bad.any():
        first = col[bad].iloc[0]
        raise DataError(
            f"{what}: column {column!r} has {int(bad.sum())} non-numeric values "
            f"(first {first!r} in row {int(np.flatnonzero(bad.to_numpy())[0]) + 1}); "
            "fix or blank them"
        )
    return num.astype(float)


__all__ = ["EXTENSIONS", "read_table", "table_kind", "to_numeric"]
