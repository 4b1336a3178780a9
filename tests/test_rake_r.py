"""rake() against R survey rake(): R's api data, and ANES 2020 raked to CVAP margins."""

import numpy as np
import pandas as pd
import pytest
from rsurvey import run_r

from calib import Sample, Targets
from calib.data import datasets

API_SCRIPT = r"""
data(api)
dstrat <- svydesign(id=~1, strata=~stype, weights=~pw, data=apistrat, fpc=~fpc)
dclus1 <- svydesign(id=~dnum, weights=~pw, data=apiclus1, fpc=~fpc)
pt <- as.data.frame(xtabs(~stype, apipop)); ps <- as.data.frame(xtabs(~sch.wide, apipop))
pa <- as.data.frame(xtabs(~awards, apipop))
ctl <- list(maxit=1000, epsilon=1e-13)
rk <- function(d) weights(rake(d, list(~stype, ~sch.wide, ~awards), list(pt, ps, pa),
  control=ctl))
write.csv(data.frame(snum=apistrat$snum, stype=apistrat$stype, sch.wide=apistrat$sch.wide,
  awards=apistrat$awards, pw=apistrat$pw, raked=rk(dstrat)), "out_strat.csv", row.names=FALSE)
write.csv(data.frame(snum=apiclus1$snum, stype=apiclus1$stype, sch.wide=apiclus1$sch.wide,
  awards=apiclus1$awards, pw=apiclus1$pw, raked=rk(dclus1)), "out_clus1.csv", row.names=FALSE)
write.csv(rbind(data.frame(variable="stype", level=pt$stype, total=pt$Freq),
  data.frame(variable="sch.wide", level=ps$sch.wide, total=ps$Freq),
  data.frame(variable="awards", level=pa$awards, total=pa$Freq)), "out_targets.csv",
  row.names=FALSE)
"""

ANES_VARS = ["sex", "age6", "race4", "educ5"]

ANES_SCRIPT = r"""
anes <- read.csv("anes.csv", stringsAsFactors=TRUE)
d <- svydesign(ids=~VarUnit, strata=~Stratum, weights=~weight, data=anes, nest=TRUE)
tg <- read.csv("targets.csv", stringsAsFactors=FALSE)
pops <- lapply(c("sex", "age6", "race4", "educ5"), function(v) {
  x <- tg[tg$variable == v, ]; df <- data.frame(x$level, Freq=x$total); names(df)[1] <- v; df })
r <- rake(d, list(~sex, ~age6, ~race4, ~educ5), pops, control=list(maxit=1000, epsilon=1e-13))
write.csv(data.frame(row=anes$row, raked=weights(r)), "out_anes.csv", row.names=FALSE)
"""


@pytest.fixture(scope="module")
def api():
    return run_r(API_SCRIPT)


@pytest.mark.parametrize("design", ["strat", "clus1"])
def test_rake_api_matches_r(api, design):
    ref = api[design]
    t = Targets.from_frame(api["targets"])
    s = Sample(ref, weight="pw").rake(t, tol=1e-13)
    np.testing.assert_allclose(s.weight_array, ref["raked"].to_numpy(), rtol=1e-6)
    assert s.history[-1].converged


def test_rake_anes2020_to_cvap_matches_r():
    anes = datasets.anes2020()
    keep = anes[ANES_VARS].notna().all(axis=1)
    df = anes.loc[keep, ANES_VARS + ["weight", "VarUnit", "Stratum"]].copy()
    for v in ANES_VARS:
        df[v] = df[v].astype(str)
    df.insert(0, "row", np.arange(len(df)))
    t = datasets.census_targets(ANES_VARS)
    ours = Sample(df, weight="weight").rake(t, tol=1e-12)
    # raked margins equal the CVAP totals (independent of either implementation)
    for v in ANES_VARS:
        got = ours.weights.groupby(df[v]).sum()
        want = pd.Series(t[v].values, index=[lv[0] for lv in t[v].levels])
        np.testing.assert_allclose(got.loc[want.index], want, rtol=1e-9)
    out = run_r(ANES_SCRIPT, {"anes": df, "targets": t.to_frame()})["anes"]
    assert len(out) == len(df) == 7016  # complete cases on the four variables
    np.testing.assert_allclose(ours.weight_array, out["raked"].to_numpy(), rtol=1e-6)
    # raking calibration (Newton, on the rank-deficient indicator matrix) has the same solution
    cal = Sample(df, weight="weight").calibrate(t, distance="raking", tol=1e-12)
    np.testing.assert_allclose(cal.weight_array, out["raked"].to_numpy(), rtol=1e-6)
