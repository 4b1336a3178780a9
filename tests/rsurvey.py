"""Run R (survey) from tests: write inputs as CSV, run an R script, read CSV outputs back.

R is a required reference: `make test` installs it. A missing R is a test failure with the
install command in the message, never a silent skip.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

import pandas as pd

INSTALL = (
    "apt-get update && apt-get install -y --no-install-recommends r-base-core r-cran-survey "
    "r-cran-mass"  # MASS::ginv: survey calibrate() with calfun raking/logit or bounds
)


def rscript() -> str:
    exe = shutil.which("Rscript")
    if exe is None:
        raise AssertionError(f"Rscript not found: the R reference is required. Install: {INSTALL}")
    return exe


def run_r(script: str, inputs: dict[str, pd.DataFrame] | None = None, timeout: int = 600) -> dict[str, pd.DataFrame]:
    """Run ``script`` in a temp dir holding ``inputs`` as ``<name>.csv``.

    The script writes outputs with ``write.csv(x, "out_<name>.csv", row.names=FALSE)``; they are
    returned as ``{name: DataFrame}``. ``library(survey)`` is loaded first.
    """
    with tempfile.TemporaryDirectory() as d:
        dpath = Path(d)
        for name, df in (inputs or {}).items():
            df.to_csv(dpath / f"{name}.csv", index=False)
        (dpath / "script.R").write_text(
            "suppressPackageStartupMessages(library(survey))\noptions(digits = 17)\n" + script
        )
        proc = subprocess.run(
            [rscript(), "--vanilla", "script.R"], cwd=d, capture_output=True, text=True,
            timeout=timeout,
        )
        if proc.returncode != 0:
            raise AssertionError(f"R failed ({proc.returncode}):\n{proc.stderr[-4000:]}")
        return {
            p.name[4:-4]: pd.read_csv(p) for p in dpath.glob("out_*.csv")
        }


def r_api(name: str) -> pd.DataFrame:
    """One of R survey's `api` data frames (apipop, apisrs, apistrat, apiclus1, apiclus2)."""
    out = run_r(f'data(api)\nwrite.csv({name}, "out_{name}.csv", row.names=FALSE)\n')
    return out[name]
