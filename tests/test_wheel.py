"""The built wheel ships data/ as calib/_data and the loaders read it from there.

Builds the wheel, installs it with ``pip --target`` into a temporary folder and runs a fresh
interpreter whose path holds that folder and the venv's site-packages but not the checkout
(``-S`` skips .pth files, so the editable install's path to the repo is not added either).
"""

from __future__ import annotations

import os
import site
import subprocess
import sys
import sysconfig
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

PROBE = """
import calib, calib.data.datasets as d
print(calib.__file__)
print(int(d.poststrat_frame()["n"].sum()))
print(int(d.election_results(2020, "national")["dem_votes"].iloc[0]))
print(len(d.gss()))
"""


def _run(cmd: list[str], **kw) -> subprocess.CompletedProcess:
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=300, **kw)
    assert res.returncode == 0, f"{' '.join(cmd)} failed:\n{res.stdout}\n{res.stderr}"
    return res


def test_wheel_ships_data(tmp_path):
    dist, target, work = tmp_path / "dist", tmp_path / "site", tmp_path / "elsewhere"
    work.mkdir()
    _run([sys.executable, "-m", "build", "--wheel", "--no-isolation", "-o", str(dist), str(ROOT)], cwd=work)
    wheels = list(dist.glob("calib-*.whl"))
    assert len(wheels) == 1, wheels
    _run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-compile",
          "--target", str(target), str(wheels[0])], cwd=work)  # fmt: skip
    assert (target / "calib" / "_data" / "PROVENANCE.md").is_file()
    assert (target / "calib" / "data" / "codebooks" / "gss.toml").is_file()
    paths = [str(target), sysconfig.get_paths()["purelib"], *site.getsitepackages()]
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    env["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(paths))
    res = _run([sys.executable, "-S", "-c", PROBE], cwd=work, env=env)
    lines = res.stdout.split()
    assert Path(lines[0]).resolve().is_relative_to(target.resolve()), lines[0]
    assert not Path(lines[0]).resolve().is_relative_to(ROOT), lines[0]
    assert lines[1:] == ["228443347", "81268924", "9000"]
