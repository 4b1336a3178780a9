"""Input files of the out-of-core engines: expand paths and globs in a fixed order.

Every engine reads the files in the order :func:`expand` gives (each argument in turn, a glob's
matches sorted), so "input row order" means: files in that order, rows in file order.
"""

from __future__ import annotations

import glob as _glob
import os
from collections.abc import Sequence
from pathlib import Path

from calib.core.errors import DataError, MissingFileError

PathLike = str | os.PathLike
Paths = PathLike | Sequence[PathLike]


def expand(paths: Paths) -> list[str]:
    """Expand paths and globs to a list of existing files (each glob's matches sorted).

    A directory stands for the Parquet files in it (``dir/*.parquet``).

    Examples
    --------
    >>> expand([__file__]) == [__file__]
    True
    """
    items = [paths] if isinstance(paths, str | os.PathLike) else list(paths)
    if not items:
        raise DataError("no input files given; pass Parquet/CSV paths or globs")
    out: list[str] = []
    for item in items:
        s = os.fspath(item)
        if os.path.isdir(s):
            s = os.path.join(s, "*.parquet")
        if any(ch in s for ch in "*?["):
            found = sorted(_glob.glob(s, recursive=True))
            if not found:
                raise DataError(f"glob {s!r} matches no files; check the path")
            out.extend(found)
        elif os.path.isfile(s):
            out.append(s)
        else:
            raise MissingFileError(s, "INPUT")
    return [str(Path(p)) for p in out]


def file_format(files: Sequence[str]) -> str:
    """``"parquet"`` or ``"csv"`` from the file suffixes; mixed inputs are an error."""
    kinds = set()
    for f in files:
        low = f.lower()
        if low.endswith((".parquet", ".pq", ".parq")):
            kinds.add("parquet")
        elif low.endswith((".csv", ".csv.gz", ".tsv")):
            kinds.add("csv")
        else:
            raise DataError(f"input file {f!r}: unknown format; use .parquet or .csv files")
    if len(kinds) > 1:
        raise DataError(f"inputs mix formats {sorted(kinds)}; convert them to one format")
    return kinds.pop()


def total_size(files: Sequence[str]) -> int:
    """Bytes on disk of the files."""
    return int(sum(os.path.getsize(f) for f in files))


__all__ = ["expand", "file_format", "total_size", "Paths"]
