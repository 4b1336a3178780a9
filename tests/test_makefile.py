"""tools/find_python.sh (the Makefile's interpreter search) with fake interpreters."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "tools" / "find_python.sh"


def _fake(path: Path, body: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/bin/sh\n" + body + "\n")
    path.chmod(0o755)
    return path


def _find(tmp_path: Path, python: str | None = None, pyenv: Path | None = None):
    """Run the search with PATH = tmp_path/bin plus the system tools it needs (no pythons)."""
    env = {"PATH": f"{tmp_path / 'bin'}:/usr/bin:/bin", "HOME": str(tmp_path / "home"),
           "PYENV_ROOT": str(pyenv or tmp_path / "nopyenv")}
    if python is not None:
        env["PYTHON"] = python
    return subprocess.run(["bash", str(SCRIPT)], env=env, capture_output=True, text=True,
                          timeout=60)


def _hide_system_pythons(tmp_path: Path) -> None:
    # /usr/bin may hold a python3; shadow it with one that is too old
    _fake(tmp_path / "bin" / "python3", "exit 1")


def test_override_first(tmp_path):
    _hide_system_pythons(tmp_path)
    r = _find(tmp_path, python=sys.executable)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == sys.executable


def test_broken_override_is_an_error_not_a_fallback(tmp_path):
    _fake(tmp_path / "bin" / "python3.12", f'exec "{sys.executable}" "$@"')
    r = _find(tmp_path, python="/nonexistent/python")
    assert r.returncode == 2
    assert "PYTHON=/nonexistent/python" in r.stderr and r.stdout == ""


def test_failing_shims_skipped_for_pyenv_install(tmp_path):
    # pyenv shims for inactive versions exist on PATH but fail when run
    _fake(tmp_path / "bin" / "python3.13", "echo 'pyenv: python3.13: command not found' >&2; exit 127")
    _fake(tmp_path / "bin" / "python3.12", "echo 'pyenv: python3.12: command not found' >&2; exit 127")
    _hide_system_pythons(tmp_path)
    root = tmp_path / "pyenv"
    _fake(root / "versions" / "3.11.9" / "bin" / "python3", f'exec "{sys.executable}" "$@"')
    good = _fake(root / "versions" / "3.12.7" / "bin" / "python3", f'exec "{sys.executable}" "$@"')
    r = _find(tmp_path, pyenv=root)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == str(good)


def test_working_python312_on_path(tmp_path):
    _fake(tmp_path / "bin" / "python3.13", "exit 127")
    _fake(tmp_path / "bin" / "python3.12", f'exec "{sys.executable}" "$@"')
    r = _find(tmp_path)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == str(tmp_path / "bin" / "python3.12")


def test_too_old_python_rejected_with_clear_message(tmp_path):
    # a "python3.12" that reports 3.11 is not accepted
    old = 'echo 3.11 >/dev/null; exit 1'
    _fake(tmp_path / "bin" / "python3.12", old)
    _hide_system_pythons(tmp_path)
    r = _find(tmp_path)
    assert r.returncode == 2 and r.stdout == ""
    assert "no working Python >= 3.12" in r.stderr and "make PYTHON=" in r.stderr


def test_makefile_uses_the_script_and_fails_cleanly(tmp_path):
    r = subprocess.run(["make", "-n", "venv", "PYTHON=/nonexistent"], cwd=ROOT,
                       capture_output=True, text=True, timeout=60,
                       env={**os.environ, "MAKEFLAGS": ""})
    assert r.returncode == 0, r.stderr
    if ".stamp-run" in r.stdout:  # the venv is out of date: the recipe searches first
        assert "tools/find_python.sh" in r.stdout
    for target in ("demo:", "test:", "test-slow:", "bench:", "lint:"):
        assert target in (ROOT / "Makefile").read_text()
