"""Apply a built-in TOML codebook (``calib/data/codebooks/<name>.toml``) to a shipped survey.

The TOML files are the one statement of every recode; :class:`calib.data.codebook.Codebook` applies
them. Unmapped values raise :class:`~calib.core.errors.UnmappedLevelError` listing each value with
its count; missing values (NA, empty text, or listed in ``missing``) become NA, never a level.
"""

from __future__ import annotations

import pandas as pd

from calib.data.codebook import Codebook, CodebookReport


def harmonize(name: str, raw: pd.DataFrame) -> tuple[pd.DataFrame, CodebookReport]:
    """``raw`` plus the harmonized columns of built-in codebook ``name``, and its report."""
    return Codebook.builtin(name).apply(raw)
