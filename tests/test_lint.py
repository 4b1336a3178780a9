"""ruff over the package, tests, benchmarks and examples, so `make test` enforces it.

The rules (pyproject.toml ``[tool.ruff.lint]``) include the size limits: at most 10 arguments
per function (PLR0913) and a McCabe complexity of at most 12 (C901).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _ruff() -> str | None:
    # the venv's ruff (the dev extra) sits next to the interpreter running the tests
    local = Path(sys.executable).parent / "ruff"
    return str(local) if local.is_file() else shutil.which("ruff")


def test_ruff_check_is_clean() -> None:
    ruff = _ruff()
    if ruff is None:
        pytest.skip("ruff is not installed; install the dev extra: pip install -e '.[dev]'")
    out = subprocess.run(
        [ruff, "check", "--no-cache", "calib", "tests", "bench", "examples"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, f"ruff check found problems:\n{out.stdout}{out.stderr}"
