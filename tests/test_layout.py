"""The layered layout: old module paths keep importing, ``import calib`` stays light."""

from __future__ import annotations

import importlib
import re
import subprocess
import sys
from pathlib import Path

import pytest

import calib

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("old", sorted(calib._OLD_PATHS))  # noqa: SLF001 - the table itself
def test_old_path_is_the_new_module(old):
    new = importlib.import_module(calib._OLD_PATHS[old])  # noqa: SLF001
    assert importlib.import_module(old) is new


def test_old_submodule_paths_resolve_to_one_module_object():
    from calib.engines.duckdb_cells import duckdb_cells as a  # old path

    from calib.outofcore.duckdb_cells import duckdb_cells as b

    assert a is b
    import calib.io

    assert calib.io.read_personas is calib.data.readers.read_personas


def test_every_module_named_in_api_md_imports():
    names = re.findall(r"^## `(calib[\w.]*)`", (ROOT / "docs" / "api.md").read_text(), re.M)
    assert len(names) > 20
    for name in names:
        importlib.import_module(name)


def test_import_calib_loads_neither_numpy_nor_pandas():
    code = ("import sys, calib; bad = [m for m in ('numpy', 'pandas', 'pymc', 'duckdb', 'numba') "
            "if m in sys.modules]; print(bad)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_lazy_names_still_reach_the_core_classes():
    from calib.core.sample import Sample
    from calib.core.targets import Margin, Targets

    assert calib.Sample is Sample and calib.Targets is Targets and calib.Margin is Margin


def test_an_old_path_keeps_the_module_spec():
    # importing the old path must not replace the new module's spec (importlib.resources
    # reads the shipped codebooks through it)
    import calib.codebooks  # noqa: F401  # old path

    import calib.data.codebooks
    from calib.data.codebook import Codebook

    assert calib.data.codebooks.__spec__.name == "calib.data.codebooks"
    assert "personas" in Codebook.builtin_names()
