"""The outcome column of ``calib estimate`` and ``calib mrp`` as read from a file: numbers when
every value that is not missing is a number, with a number written with a comma named.

Examples
--------
>>> numeric_outcome(pd.DataFrame({"y": ["0", "refused", "1"]}), "y")["y"].tolist()
[0.0, nan, 1.0]
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from calib.cli.commands._io import to_numeric
from calib.core.cells import missing_mask
from calib.core.errors import DataError

#: A number written with a thousands separator or a decimal comma ("1,000", "0,5").
_COMMA_NUMBER = re.compile(r"^\s*[+-]?(\d{1,3}(,\d{3})+(\.\d*)?|\d+,\d+)\s*$")


def numeric_outcome(frame: pd.DataFrame, outcome: str) -> pd.DataFrame:
    """``frame`` with the outcome as numbers when every value that is not missing (blank or a
    token such as ``NA``, ``refused``) is a number: the tokens become NaN (then left out,
    refused or refused as a level by ``--missing``). A number written with a comma in an
    otherwise numeric outcome is refused, naming the value and its (1-based data) row,
    instead of silently making the outcome categorical.

    Examples
    --------
    >>> f = numeric_outcome(pd.DataFrame({"y": ["1", "NA", "0"]}), "y")
    >>> f["y"].tolist()
    [1.0, nan, 0.0]
    >>> numeric_outcome(pd.DataFrame({"y": ["1", "1,000"]}), "y")
    Traceback (most recent call last):
    ...
    calib.core.errors.DataError: --outcome y: the value '1,000' in row 2 is a number written with a comma; write 1000 (no thousands separator) or 0.5 (a decimal point)
    """
    col = frame[outcome]
    if pd.api.types.is_numeric_dtype(col.dtype) or pd.api.types.is_bool_dtype(col.dtype):
        return frame
    miss = missing_mask(col)
    present = col[~miss]
    if not len(present) or isinstance(col.dtype, pd.CategoricalDtype):
        return frame
    parsed = pd.to_numeric(present, errors="coerce")
    bad = parsed.isna()
    if bad.any():
        comma = present[bad].astype(str).str.match(_COMMA_NUMBER)
        if comma.all() and not bad.all():
            pos = int(np.flatnonzero(~miss)[np.flatnonzero(bad.to_numpy())[0]])
            raise DataError(
                f"--outcome {outcome}: the value {col.iloc[pos]!r} in row {pos + 1} is a "
                "number written with a comma; "
                "write 1000 (no thousands separator) or 0.5 (a decimal point)")
        return frame
    frame = frame.copy()
    frame[outcome] = to_numeric(pd.DataFrame({outcome: col.where(~miss)}), outcome,
                                f"--outcome {outcome}")
    return frame


__all__ = ["numeric_outcome"]
