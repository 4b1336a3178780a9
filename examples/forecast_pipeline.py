"""A study file run end to end: simulated personas -> methods -> forecasts -> backtest.

Usage: python examples/forecast_pipeline.py [OUTDIR]   (OUTDIR defaults to $CALIB_EXAMPLE_OUT
or a new temp dir). Writes ``study.toml`` there and runs it with
:func:`calib.studies.pipeline.run_study` (the same as ``calib run study.toml``); the outputs go to
``OUTDIR/study``.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

from calib.studies.pipeline import load_study, run_study

STUDY = """\
[personas]
simulate = {{ year = 2024, per_state = 300, human_n = 0, seed = 1 }}
persona_type = "meta"

[analysis]
outcome = "vote_dem"
methods = ["raw", "rake"]
variables = ["age6", "sex", "educ5"]
seed = 1

[benchmark]
certified = 2024

[forecast]
year = 2024
fill_missing = "previous"
national_sd = 0.02
draws = 2000
seed = 1

[outputs]
dir = "{out}"
report = false
overwrite = true
"""


def main(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    study = out / "study.toml"
    study.write_text(STUDY.format(out=(out / "study").as_posix()))
    print(f"wrote {study}")
    res = run_study(load_study(study))
    cols = ["method", "rmse", "coverage", "status", "bt_ev_expected", "bt_ev_actual",
            "bt_p_dem_win", "bt_winners_correct"]
    table = res.table()
    print(table[[c for c in cols if c in table]].to_string(index=False,
                                                           float_format=lambda x: f"{x:.4f}"))
    failed = table.loc[table["status"] != "ok", "method"].tolist()
    if failed:
        raise SystemExit(f"methods failed: {failed}")
    print(f"outputs: {sorted(Path(p).name for p in map(str, res.outputs.values()))}")


if __name__ == "__main__":
    target = sys.argv[1] if len(sys.argv) > 1 else os.environ.get("CALIB_EXAMPLE_OUT")
    main(Path(target) if target else Path(tempfile.mkdtemp(prefix="calib-example-")))
