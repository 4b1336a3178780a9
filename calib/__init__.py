"""calib: turn biased LLM persona sets into population estimates you can defend.

Weighting (poststratification, raking, calibration, convex calibration, propensity weights),
estimation with calibration-aware uncertainty, Bayesian MRP, and hybrid persona + human
inference, all solved on cells.

>>> import calib
>>> calib.__version__
'0.1.0'
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

from .errors import (
    CalibError,
    ConvergenceError,
    DataError,
    DiagnosticsError,
    InfeasibleError,
    TargetError,
    UnmappedLevelError,
)
from .sample import Sample
from .targets import Margin, Targets, margin

__version__ = "0.1.0"

# submodules and names loaded on first use, so `import calib` stays light
_LAZY = {
    "Codebook": ("calib.codebook", "Codebook"),
    "read_personas": ("calib.io", "read_personas"),
    "read_tianyi_personas": ("calib.io", "read_tianyi_personas"),
    "read_answers": ("calib.io", "read_answers"),
    "join_answers": ("calib.io", "join_answers"),
    "io": ("calib.io", None),
    "codebook": ("calib.codebook", None),
    "variables": ("calib.variables", None),
    "opinion": ("calib.opinion", None),
    "report": ("calib.report", None),
    "engines": ("calib.engines", None),
    "FileSample": ("calib.filesample", "FileSample"),
    "persist": ("calib.persist", None),
    "save_sample": ("calib.persist", "save_sample"),
    "load_sample": ("calib.persist", "load_sample"),
    "datasets": ("calib.datasets", None),
    "simulate": ("calib.simulate", None),
    "diagnostics": ("calib.diagnostics", None),
    "estimation": ("calib.estimation", None),
    "weighting": ("calib.weighting", None),
    "cells": ("calib.cells", None),
    "mrp": ("calib.mrp", None),
    "election": ("calib.election", None),
    "hybrid": ("calib.hybrid", None),
    "compare": ("calib.compare", None),
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        mod, attr = _LAZY[name]
        m = import_module(mod)
        return m if attr is None else getattr(m, attr)
    raise AttributeError(f"module 'calib' has no attribute {name!r}")


__all__ = [
    "CalibError",
    "ConvergenceError",
    "DataError",
    "DiagnosticsError",
    "InfeasibleError",
    "TargetError",
    "UnmappedLevelError",
    "Sample",
    "Targets",
    "Margin",
    "margin",
    "__version__",
    *_LAZY,
]
