"""calib: turn biased LLM persona sets into population estimates you can defend.

Weighting (poststratification, raking, calibration, convex calibration, propensity weights),
estimation with calibration-aware uncertainty, Bayesian MRP, and hybrid persona + human
inference, all solved on cells.

The package is layered (docs/design.md): ``core`` (cells, targets, sample, errors) ->
``data`` (variables, codebooks, readers, datasets, persistence) -> ``weighting`` ->
``estimation`` -> ``outofcore`` -> models (``mrp`` | ``election``, then ``hybrid``) ->
``report`` -> ``studies`` -> ``cli``; nothing imports upward (pyproject's import contracts).
``import calib`` loads only the error classes: ``Sample``, ``Targets`` and every submodule load
on first use through ``_LAZY``, and the module paths of the first layout (``calib.io``,
``calib.persist``, ``calib.engines``, ...) keep importing as aliases of their new homes
(``_OLD_PATHS``; the table is in docs/design.md).

>>> import calib
>>> calib.__version__
'0.1.0'
"""

from __future__ import annotations

import importlib.abc
import importlib.util
import sys
from importlib import import_module
from types import ModuleType
from typing import Any

from calib.core.errors import (
    CalibError,
    ConvergenceError,
    DataError,
    DiagnosticsError,
    InfeasibleError,
    TargetError,
    UnmappedLevelError,
)

__version__ = "0.1.0"

# submodules and names loaded on first use, so `import calib` stays light (no numpy, no pandas)
_LAZY = {
    "Sample": ("calib.core.sample", "Sample"),
    "Targets": ("calib.core.targets", "Targets"),
    "Margin": ("calib.core.targets", "Margin"),
    "margin": ("calib.core.targets", "margin"),
    "Codebook": ("calib.data.codebook", "Codebook"),
    "read_personas": ("calib.data.readers", "read_personas"),
    "read_tianyi_personas": ("calib.data.readers", "read_tianyi_personas"),
    "read_answers": ("calib.data.readers", "read_answers"),
    "join_answers": ("calib.data.readers", "join_answers"),
    "io": ("calib.data.readers", None),
    "codebook": ("calib.data.codebook", None),
    "variables": ("calib.data.variables", None),
    "opinion": ("calib.studies.opinion", None),
    "report": ("calib.report", None),
    "engines": ("calib.outofcore", None),
    "FileSample": ("calib.outofcore.filesample", "FileSample"),
    "persist": ("calib.mrp.store", None),
    "save_sample": ("calib.estimation.persist", "save_sample"),
    "load_sample": ("calib.estimation.persist", "load_sample"),
    "datasets": ("calib.data.datasets", None),
    "simulate": ("calib.studies.simulate", None),
    "diagnostics": ("calib.weighting.diagnostics", None),
    "estimation": ("calib.estimation", None),
    "weighting": ("calib.weighting", None),
    "cells": ("calib.core.cells", None),
    "mrp": ("calib.mrp", None),
    "election": ("calib.election", None),
    "hybrid": ("calib.hybrid", None),
    "compare": ("calib.studies.comparison", None),
}

#: module paths of the first layout -> their home now (a package maps its submodules too).
_OLD_PATHS = {
    "calib.errors": "calib.core.errors",
    "calib.cells": "calib.core.cells",
    "calib.targets": "calib.core.targets",
    "calib.sample": "calib.core.sample",
    "calib.threads": "calib.core.threads",
    "calib.progress": "calib.core.progress",
    "calib.variables": "calib.data.variables",
    "calib.codebook": "calib.data.codebook",
    "calib.codebooks": "calib.data.codebooks",
    "calib.io": "calib.data.readers",
    "calib.datasets": "calib.data.datasets",
    "calib.persist": "calib.mrp.store",
    "calib.diagnostics": "calib.weighting.diagnostics",
    "calib.weighting.result": "calib.core.history",
    "calib.weighting.design": "calib.weighting.problem",
    "calib.weighting.ipf_batch": "calib.estimation.compiled.ipf_batch",
    "calib.estimation.multinomial": "calib.estimation.compiled.multinomial",
    "calib.estimation.grouped": "calib.estimation.compiled.grouped",
    # compiled/ holds only the compiled kernels: the plan-aware cell path sits beside replicates
    "calib.estimation.compiled.cell_replicates": "calib.estimation.cell_replicates",
    "calib.engines.cli": "calib.cli.commands._outofcore",
    "calib.cli.outofcore": "calib.cli.commands._outofcore",
    "calib.engines": "calib.outofcore",
    "calib.filesample": "calib.outofcore.filesample",
    "calib.simulate": "calib.studies.simulate",
    "calib.election_study": "calib.studies.election_study",
    "calib.compare": "calib.studies.comparison",
    "calib.opinion": "calib.studies.opinion",
    "calib.pipeline": "calib.studies.pipeline",
    "calib.demo": "calib.studies.demo",
    "calib.demo_study": "calib.studies.demo_study",
    "calib.report_study": "calib.studies.report_study",
    "calib.commands": "calib.cli.commands",
}


def new_path(name: str) -> str | None:
    """The current module path of ``name``, a module path of the first layout (else None).

    >>> new_path("calib.io"), new_path("calib.engines.duckdb_cells"), new_path("calib.mrp")
    ('calib.data.readers', 'calib.outofcore.duckdb_cells', None)
    """
    best = max((o for o in _OLD_PATHS if name == o or name.startswith(o + ".")), key=len,
               default=None)
    return None if best is None else _OLD_PATHS[best] + name[len(best):]


class _Alias(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Serve an old module path as the very module object of its new home."""

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> Any:
        new = new_path(fullname) if fullname.startswith("calib.") else None
        if new is None:
            return None
        return importlib.util.spec_from_loader(fullname, self, origin=new)

    def create_module(self, spec: Any) -> ModuleType:
        module = import_module(spec.origin)
        spec.loader_state = module.__spec__  # the import system overwrites it: put it back
        return module

    def exec_module(self, module: ModuleType) -> None:
        # keep the module's own spec, so importlib.resources still finds its files
        spec = module.__spec__
        assert spec is not None  # set by create_module's module
        module.__spec__ = spec.loader_state


if not any(isinstance(f, _Alias) for f in sys.meta_path):
    sys.meta_path.insert(0, _Alias())


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
    "__version__",
    *_LAZY,
]
