"""estimate() against R survey: svymean / svytotal / svyby after rake, postStratify and
calibrate (linear, bounded linear, bounded logit), on R's api data, with ids=~1 and with
clusters; jackknife SEs against R's recalibrated JK1 replicate designs; bootstrap SEs against
R svrepdesign given our exported replicate weights."""

import numpy as np
import pandas as pd
import pytest
from rsurvey import run_r

from calib import Sample, Targets
from calib.estimation import estimate, replicate_weights

R_COMMON = r"""
data(api)
pt <- as.data.frame(xtabs(~stype, apipop)); ps <- as.data.frame(xtabs(~sch.wide, apipop))
pa <- as.data.frame(xtabs(~awards, apipop))
cal_tot <- c(`(Intercept)`=nrow(apipop), stypeH=sum(apipop$stype=="H"),
             stypeM=sum(apipop$stype=="M"), api99=sum(apipop$api99))
weigh <- function(d, how, b=c(0.5, 2), ...) switch(how,
  none = d,
  rake = rake(d, list(~stype, ~sch.wide, ~awards), list(pt, ps, pa),
              control=list(maxit=1000, epsilon=1e-13)),
  post = postStratify(d, ~stype, pt),
  linear = calibrate(d, ~stype + api99, cal_tot, epsilon=1e-12, maxit=200, ...),
  blinear = calibrate(d, ~stype + api99, cal_tot, bounds=b, epsilon=1e-12,
                      maxit=200),
  blogit = calibrate(d, ~stype + api99, cal_tot, bounds=b, calfun="logit",
                     epsilon=1e-12, maxit=200))
tidy <- function(x, stat, outcome, by="", domain="") {
  data.frame(stat=stat, outcome=outcome, level=sub(paste0("^", outcome), "", names(coef(x))),
             by=by, domain=domain, estimate=as.vector(coef(x)), se=as.vector(SE(x)))
}
BND <- list(srs=c(0.97, 1.03), clus1=c(0.5, 2))
# R fails on some JK replicates under the tighter bounds
BNDJK <- list(srs=c(0.95, 1.05), clus1=c(0.4, 2.5))
ests <- function(d, how) {
  a <- tidy(svymean(~api00, d), "mean", "api00"); a$level <- ""
  b <- tidy(svytotal(~enroll, d), "total", "enroll"); b$level <- ""
  cc <- tidy(svymean(~both, d), "mean", "both")
  by1 <- svyby(~api00, ~awards, d, svymean)
  e <- data.frame(stat="mean", outcome="api00", level="", by="awards",
                  domain=as.character(by1$awards), estimate=coef(by1), se=SE(by1))
  by2 <- svyby(~enroll, ~awards, d, svytotal)
  f <- data.frame(stat="total", outcome="enroll", level="", by="awards",
                  domain=as.character(by2$awards), estimate=coef(by2), se=SE(by2))
  out <- rbind(a, b, cc, e, f); out$how <- how; out
}
"""

LIN_SCRIPT = R_COMMON + r"""
res <- NULL
for (des in c("srs", "clus1")) {
  d <- if (des == "srs") svydesign(id=~1, weights=~pw, data=apistrat) else
    svydesign(id=~dnum, weights=~pw, data=apiclus1)
  for (how in c("none", "rake", "post", "linear", "blinear", "blogit")) {
    o <- ests(weigh(d, how, BND[[des]]), how); o$design <- des; res <- rbind(res, o) }
}
write.csv(res, "out_lin.csv", row.names=FALSE)
write.csv(apistrat, "out_apistrat.csv", row.names=FALSE)
write.csv(apiclus1, "out_apiclus1.csv", row.names=FALSE)
write.csv(rbind(data.frame(variable="stype", level=pt$stype, total=pt$Freq),
  data.frame(variable="sch.wide", level=ps$sch.wide, total=ps$Freq),
  data.frame(variable="awards", level=pa$awards, total=pa$Freq),
  data.frame(variable="api99", level="", total=sum(apipop$api99))),
  "out_targets.csv", row.names=FALSE)
"""

JK_SCRIPT = R_COMMON + r"""
res <- NULL
for (des in c("srs", "clus1")) {
  d <- if (des == "srs") svydesign(id=~1, weights=~pw, data=apistrat) else
    svydesign(id=~dnum, weights=~pw, data=apiclus1)
  rd <- as.svrepdesign(d, type="JK1")
  for (how in c("none", "rake", "post", "linear", "blogit")) {
    o <- ests(weigh(rd, how, BNDJK[[des]]), how); o$design <- des; res <- rbind(res, o) }
}
write.csv(res, "out_jk.csv", row.names=FALSE)
"""

BOOT_SCRIPT = R_COMMON + r"""
res <- NULL
for (des in c("srs", "clus1")) {
  dat <- if (des == "srs") apistrat else apiclus1
  rw <- as.matrix(read.csv(paste0("rw_", des, ".csv")))
  rd <- svrepdesign(data=dat, weights=~pw, repweights=rw, type="bootstrap",
                    combined.weights=TRUE)
  for (how in c("none", "rake", "post", "linear")) {
    o <- ests(weigh(rd, how, BND[[des]], compress=FALSE), how); o$design <- des; res <- rbind(res, o) }
}
write.csv(res, "out_boot.csv", row.names=FALSE)
"""

OUTCOMES = [("mean", "api00", None), ("total", "enroll", None), ("mean", "both", None),
            ("mean", "api00", "awards"), ("total", "enroll", "awards")]


@pytest.fixture(scope="module")
def lin():
    return run_r(LIN_SCRIPT)


def _targets(tg: pd.DataFrame, names: list[str]) -> Targets:
    t = tg[tg["variable"].isin(names)].copy()
    t["level"] = t["level"].fillna("")
    return Targets.from_frame(t)


BOUNDS = {None: (0.97, 1.03), "dnum": (0.5, 2.0)}


BOUNDS_JK = {None: (0.95, 1.05), "dnum": (0.4, 2.5)}


def weigh(
    data: pd.DataFrame, tg: pd.DataFrame, how: str, cluster: str | None, bounds=BOUNDS
) -> Sample:
    s = Sample(data, weight="pw", cluster=cluster)
    if how == "none":
        return s
    if how == "rake":
        return s.rake(_targets(tg, ["stype", "sch.wide", "awards"]), tol=1e-13)
    if how == "post":
        return s.poststratify(_targets(tg, ["stype"]))
    t = _targets(tg, ["stype", "api99"])
    b = bounds[cluster]
    opts = {"linear": {}, "blinear": {"bounds": b}, "blogit": {"distance": "logit", "bounds": b}}[how]
    return s.calibrate(t, tol=1e-12, max_iter=200, **opts)


def ours(s: Sample, **kw) -> pd.DataFrame:
    rows = []
    for stat, y, by in OUTCOMES:
        e = estimate(s, y, by=by, stat=stat, **kw)
        e["stat"] = stat
        rows.append(e)
    return pd.concat(rows, ignore_index=True)


def compare(mine: pd.DataFrame, ref: pd.DataFrame, est_rtol=1e-6, se_rtol=1e-5) -> None:
    ref = ref.copy()
    for c in ("level", "by", "domain"):
        ref[c] = ref[c].fillna("").astype(str)
    key = ["stat", "outcome", "level", "by", "domain"]
    m = mine.merge(ref, on=key, suffixes=("", "_r"), how="outer", indicator=True)
    assert (m["_merge"] == "both").all(), m[m["_merge"] != "both"][key + ["_merge"]]
    np.testing.assert_allclose(m["estimate"], m["estimate_r"], rtol=est_rtol)
    # structurally zero SEs (a share fixed by calibration) are compared with a tiny atol
    atol = 1e-9 * np.maximum(np.abs(m["estimate_r"].to_numpy()), 1.0)
    se, se_r = m["se"].to_numpy(), m["se_r"].to_numpy()
    bad = np.abs(se - se_r) > se_rtol * np.abs(se_r) + atol
    assert not bad.any(), m.loc[bad, key + ["se", "se_r"]]


DESIGNS = {"srs": ("apistrat", None), "clus1": ("apiclus1", "dnum")}


@pytest.mark.parametrize("design", ["srs", "clus1"])
@pytest.mark.parametrize("how", ["none", "rake", "post", "linear", "blinear", "blogit"])
def test_linearization_matches_r(lin, design, how):
    data_name, cluster = DESIGNS[design]
    s = weigh(lin[data_name], lin["targets"], how, cluster)
    ref = lin["lin"]
    compare(ours(s), ref[(ref["design"] == design) & (ref["how"] == how)])


def test_ignoring_calibration_differs_from_r(lin):
    """Guard: the calibration-aware SE is not the naive one (the test can fail)."""
    s = weigh(lin["apistrat"], lin["targets"], "linear", None)
    naive = estimate(Sample(lin["apistrat"], weight=s.weight_array), "api00")
    aware = estimate(s, "api00")
    assert aware["se"].iloc[0] < 0.8 * naive["se"].iloc[0]


def test_jackknife_matches_r_recalibrated_jk1(lin):
    ref = run_r(JK_SCRIPT)["jk"]
    for design in ("srs", "clus1"):
        data_name, cluster = DESIGNS[design]
        for how in ("none", "rake", "post", "linear", "blogit"):
            s = weigh(lin[data_name], lin["targets"], how, cluster, BOUNDS_JK)
            r = ref[(ref["design"] == design) & (ref["how"] == how)]
            compare(ours(s, variance="jackknife"), r)


def test_bootstrap_matches_r_on_our_replicate_weights(lin):
    inputs = {}
    for design in ("srs", "clus1"):
        data_name, cluster = DESIGNS[design]
        s = Sample(lin[data_name], weight="pw", cluster=cluster)
        rw = replicate_weights(s, "bootstrap", replicates=50, seed=11)
        inputs[f"rw_{design}"] = rw
    ref = run_r(BOOT_SCRIPT, inputs)["boot"]
    for design in ("srs", "clus1"):
        data_name, cluster = DESIGNS[design]
        for how in ("none", "rake", "post", "linear"):
            s = weigh(lin[data_name], lin["targets"], how, cluster)
            r = ref[(ref["design"] == design) & (ref["how"] == how)]
            compare(ours(s, variance="bootstrap", replicates=50, seed=11), r)
