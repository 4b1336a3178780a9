"""MRP options shared by ``calib mrp`` and ``calib hybrid --method mrp``.

One command module may not import another (import-linter's ``commands`` contract), so the
choices and helpers both commands use live here: the ``--missing`` / ``--gate`` choices, the
``--interaction`` check, the gate status of a fit and the ``--missing level`` filling.

Examples
--------
>>> check_interactions(("age6:educ5",))
>>> fill_missing_level(pd.DataFrame({"a": ["x", None]}), ["a"])["a"].tolist()
['x', 'Missing']
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from calib.core.cells import missing_mask
from calib.core.errors import DataError
from calib.mrp.diagnostics import Gate

#: ``--missing``: error, drop (rows dropped, counted) or level (a level ``Missing``).
MISSING = ("error", "drop", "level")
#: ``--gate``: raise (a failing fit exits 3) or warn (a ``gate`` column).
GATES = ("raise", "warn")
#: The level ``--missing level`` gives missing group / fixed / interaction values.
MISSING_LEVEL = "Missing"


def check_choice(flag: str, value: str, allowed: Sequence[str]) -> None:
    """Refuse ``value`` of ``flag`` unless it is one of ``allowed``.

    >>> check_choice("--gate", "warn", GATES)
    """
    if value not in allowed:
        raise DataError(f"{flag} {value!r}: use one of {list(allowed)}")


def check_interactions(interactions: Iterable[str]) -> None:
    """Each ``--interaction`` names two or more columns joined by ``:``."""
    for it in interactions:
        if len([p for p in it.split(":") if p]) < 2:
            raise DataError(f"--interaction {it!r}: name two or more columns joined by ':' "
                            "(e.g. age:educ)")


def gate_status(fit: Any, gate: Gate | str = "raise") -> str:
    """``"pass"`` or ``"fail: <checks>"`` (r_hat, ess_bulk, ess_tail, divergences) of a fit
    under the gate's limits."""
    g = Gate.of(gate)
    d = fit.diagnostics
    failed = []
    if (d["r_hat"].fillna(np.inf) > g.max_rhat).any():
        failed.append("r_hat")
    if (d["ess_bulk"].fillna(0) < g.min_ess_bulk).any():
        failed.append("ess_bulk")
    if (d["ess_tail"].fillna(0) < g.min_ess_tail).any():
        failed.append("ess_tail")
    if fit.options.get("divergences", 0) > g.max_divergences:
        failed.append("divergences")
    return "pass" if not failed else "fail: " + ", ".join(failed)


def fill_missing_level(frame: pd.DataFrame, columns: Iterable[str]) -> pd.DataFrame:
    """A copy of ``frame`` whose missing values (NA or a missing token) in the text
    ``columns`` are the level :data:`MISSING_LEVEL` (``--missing level``); numeric columns
    are left alone (they have no level to put them in)."""
    out = frame.copy()
    for c in columns:
        if c in out.columns and not pd.api.types.is_numeric_dtype(out[c]):
            m = missing_mask(out[c])
            if m.any():
                out[c] = out[c].astype(object).where(~m, MISSING_LEVEL)
    return out


__all__ = ["MISSING", "GATES", "MISSING_LEVEL", "check_choice", "check_interactions",
           "gate_status", "fill_missing_level"]
