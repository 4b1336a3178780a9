"""Compare raw, raking and prediction-powered inference on a simulated election study.

Usage: python examples/methods_comparison.py [OUTDIR]   (OUTDIR defaults to $CALIB_EXAMPLE_OUT
or a new temp dir; the comparison tables are written there).

The study has known truth (certified 2024 state results): raking fixes the personas'
composition bias but not their response bias (the LLM's answers are shifted); PPI uses a small
human sample answered by both humans and the LLM to rectify the shift.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

from calib.studies.comparison import compare
from calib.studies.election_study import election_study


def main(out: Path) -> None:
    study = election_study(2024, per_state=150, human_n=1500, seed=5,
                           persona_types=("descriptive",))
    bench = study.truth_state.set_index("state")["dem_two_party_share"]
    result = compare(study.personas, "vote_dem", benchmark=bench, frame=study.frame,
                     methods=("raw", "rake", "ppi"), variables=("age6", "sex", "educ5"),
                     human=study.human, human_outcome="vote_dem", llm_outcome="llm_vote_dem",
                     seed=0)
    print(result)
    s = result.summary.set_index("method")
    best = s["rmse"].idxmin()
    print(f"lowest state RMSE: {best} ({s.at[best, 'rmse']:.4f})")
    result.write(str(out / "comparison.csv"), overwrite=True)
    print(f"wrote {out / 'comparison.csv'}")


if __name__ == "__main__":
    target = sys.argv[1] if len(sys.argv) > 1 else os.environ.get("CALIB_EXAMPLE_OUT")
    main(Path(target) if target else Path(tempfile.mkdtemp(prefix="calib-example-")))
