"""Run every example script in a subprocess (writing only to a temp dir)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

CASES = {
    "weight_persona_file.py": ["unmapped: educ5 <- \"Associate's Degree\" (2 rows)",
                               "saved weighted sample to"],
    "methods_comparison.py": ["lowest state RMSE: ppi"],
    "forecast_pipeline.py": ["forecast_rake.json"],
    "mrp_frame_extension.py": ["extended frame:", "saved and reloaded the fit"],
    "llm_simulation_pipeline.py": ["recoded 150 personas; missing after recoding: 0",
                                   "weighted Harris two-party share by state",
                                   "P(Harris wins the college)", "wrote forecast.json"],
}


def test_every_example_is_tested():
    assert sorted(p.name for p in (ROOT / "examples").glob("*.py")) == sorted(CASES)


@pytest.mark.parametrize("script", sorted(CASES))
def test_example_runs(script, tmp_path):
    r = subprocess.run([sys.executable, str(ROOT / "examples" / script), str(tmp_path)],
                       capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-3000:]
    for line in CASES[script]:
        assert line in r.stdout, r.stdout[-3000:]
    assert any(tmp_path.iterdir())
