"""Locate the data files shipped with calib.

An installed wheel carries ``data/`` as the package resource ``calib/_data``; an editable or
development checkout reads the repository's ``data/`` folder next to the package. Loaders name
files relative to that root (``"census/mrpcasestudy_poststrat_df.parquet"``) and never download.

Examples
--------
>>> data_file("census/mrpcasestudy_statelevel_predictors.csv").name
'mrpcasestudy_statelevel_predictors.csv'
"""

from __future__ import annotations

from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

import pandas as pd

from calib.core.errors import DataError

_REPO_DATA = Path(__file__).resolve().parents[3] / "data"


def data_root() -> Traversable:
    """The folder holding the shipped data: ``calib/_data`` when installed, else ``data/``."""
    try:
        res = resources.files("calib") / "_data"
        if res.is_dir():
            return res
    except (ModuleNotFoundError, FileNotFoundError):  # pragma: no cover - calib is importable
        pass
    if _REPO_DATA.is_dir():
        return _REPO_DATA
    raise DataError(
        "calib's data folder was not found: neither the package resource 'calib/_data' "
        f"(installed wheel) nor {str(_REPO_DATA)!r} (checkout) exists. Reinstall calib from a "
        "wheel or run from a full checkout"
    )


def data_file(relpath: str) -> Traversable:
    """The shipped file ``relpath`` (e.g. ``"elections/president_state_2016_2024.csv"``)."""
    node = data_root()
    for part in relpath.split("/"):
        node = node / part
    if not node.is_file():
        raise DataError(
            f"shipped data file {relpath!r} is missing from {str(data_root())!r}; the install "
            "is incomplete: reinstall calib (the wheel ships data/ as calib/_data)"
        )
    return node


def read_table(relpath: str, **kw) -> pd.DataFrame:
    """Read a shipped CSV or Parquet file into a DataFrame (extra keywords go to pandas)."""
    node = data_file(relpath)
    with resources.as_file(node) as path:
        if relpath.endswith(".parquet"):
            return pd.read_parquet(path, **kw)
        return pd.read_csv(path, **kw)


def read_text(relpath: str) -> str:
    """The text of a shipped file (JSON, TOML, Markdown)."""
    return data_file(relpath).read_text(encoding="utf-8")
