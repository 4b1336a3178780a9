"""basedpyright (basic mode, configured in pyproject.toml) reports no errors over calib/.

The checker comes with the dev extra (``basedpyright``, ``pandas-stubs``); it runs from the
bin folder of the interpreter running the tests, resolving imports in that interpreter's
environment.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _basedpyright() -> Path:
    exe = Path(sys.executable).parent / "basedpyright"
    assert exe.exists(), (
        f"basedpyright is not installed next to {sys.executable}; install the dev extra "
        "(pip install -e '.[dev]')"
    )
    return exe


def test_basedpyright_reports_no_errors() -> None:
    proc = subprocess.run(
        [str(_basedpyright()), "--outputjson", "--pythonpath", sys.executable],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )
    try:
        report = json.loads(proc.stdout)
    except json.JSONDecodeError:
        raise AssertionError(f"basedpyright failed to run:\n{proc.stdout}\n{proc.stderr}") from None
    errors = [d for d in report["generalDiagnostics"] if d["severity"] == "error"]
    lines = [
        f"{Path(d['file']).relative_to(ROOT)}:{d['range']['start']['line'] + 1}: "
        f"{d['message']} ({d.get('rule', '')})"
        for d in errors
    ]
    if errors:
        pytest.fail(f"basedpyright: {len(errors)} type errors:\n" + "\n".join(lines),
                    pytrace=False)
    assert report["summary"]["filesAnalyzed"] > 50  # the include = ["calib"] took effect
