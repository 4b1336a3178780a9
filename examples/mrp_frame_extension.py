"""MRP on a small simulated persona sample, with the frame extended by party ID.

Usage: python examples/mrp_frame_extension.py [OUTDIR]   (OUTDIR defaults to
$CALIB_EXAMPLE_OUT or a new temp dir; the fit is saved there with calib.mrp.store.save_fit).

The census frame has no party ID; :func:`calib.mrp.extend_frame` splits each cell by pid3 with
a multinomial model fitted on the shipped CCES 2018 extract. The draws are tiny (a demo, not
an analysis): ``gate="warn"`` reports convergence problems instead of raising.
"""

from __future__ import annotations

import os
import sys
import tempfile
import warnings
from pathlib import Path

from calib import mrp
from calib.data.datasets import cces2018, poststrat_frame
from calib.mrp.store import load_fit, save_fit
from calib.studies import simulate

STATES = ["CA", "TX", "WY"]
BY = ["state", "age6", "race4", "sex", "educ5"]


def main(out: Path) -> None:
    frame = poststrat_frame()
    frame = frame[frame["state"].isin(STATES)].reset_index(drop=True)
    frame["state"] = frame["state"].astype(str)
    pop = simulate.population(frame=frame)
    rows, _ = simulate.sample(pop, 1500, skew={"age6": {"18-29": 3.0}}, seed=5)
    print(f"simulated {len(rows)} personas in {STATES}")
    ref = cces2018()
    ref = ref[ref["state"].isin(STATES)]
    ext = mrp.extend_frame(frame, ref, "pid3", by=BY, missing="drop")
    print(f"extended frame: {len(frame)} cells -> {len(ext)} cells (by pid3)")
    shares = ext.groupby(["state", "pid3"], observed=True)["n"].sum()
    print((shares / shares.groupby(level="state").transform("sum")).round(3).unstack())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tiny draws: the diagnostics gate only warns
        fit = mrp.fit(rows, "y", group_effects=["state", "age6"], gate="warn",
                      sampler=mrp.Sampler(draws=100, tune=100, chains=2, backend="nutpie",
                                          seed=1))
        est = fit.poststratify(frame)
    print(est.table[["by", "domain", "estimate", "q05", "q95"]].to_string(index=False))
    path = save_fit(fit, out / "mrp_fit.zarr", overwrite=True)
    back = load_fit(path)
    if not (back.draws("b_state") == fit.draws("b_state")).all():
        raise SystemExit("reloaded posterior differs from the fitted one")
    print(f"saved and reloaded the fit: {path.name}, posterior draws "
          f"{back.draws('b_state').shape[0]}")


if __name__ == "__main__":
    target = sys.argv[1] if len(sys.argv) > 1 else os.environ.get("CALIB_EXAMPLE_OUT")
    main(Path(target) if target else Path(tempfile.mkdtemp(prefix="calib-example-")))
