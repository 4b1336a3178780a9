"""estimate() against R survey where calib once disagreed (issue 17): JKn replicates and
linearized totals with lonely PSUs (R >= 4.4's ``adjust`` and R <= 4.3's, here
``adjust-zero``), trimming after raking (linearized and per replicate), and the two bootstraps
(Rao-Wu = R's ``subbootstrap``, Canty-Davison = R's ``bootstrap``)."""

import numpy as np
import pandas as pd
import pytest
from rsurvey import r_api, run_r

from calib import Sample, Targets
from calib.core.errors import DataError
from calib.estimation import estimate, replicate_weights

SINGLETON = pd.DataFrame({
    "Stratum": [1, 1, 2, 2, 3], "PSU": [1, 2, 3, 4, 5],
    "Design_Weight": [10.5, 10.5, 20, 20, 15], "Age": [30.5, 40.5, 35, 52, 44]})

#: R survey >= 4.4's lonely.psu="adjust" for a one-stage design, as a few lines of R: a lonely
#: PSU's total is centred at the grand mean of all PSU totals (R <= 4.3: at zero), scale 1.
R_ADJUST_44 = r"""
adjust44 <- function(x, strata, psu) {
  tot <- rowsum(x, psu); st <- strata[!duplicated(psu)][order(unique(psu))]
  grand <- mean(tot); v <- 0
  for (h in unique(st)) { t <- tot[st == h]; n <- length(t)
    v <- v + if (n > 1) n / (n - 1) * sum((t - mean(t))^2) else (t - grand)^2 }
  v
}
"""


SEV = "sev <- function(x) as.vector(SE(x))\n"


@pytest.fixture(scope="module")
def apiclus1():
    return r_api("apiclus1")


@pytest.fixture(scope="module")
def apipop():
    return r_api("apipop")


def test_lonely_adjust_zero_matches_installed_r(apiclus1):
    """R <= 4.3's rule (the R survey installed here, 4.1.1): lonely="adjust-zero"."""
    ref = run_r(SEV + r"""
data(api); options(survey.lonely.psu="adjust")
ds <- svydesign(id=~1, weights=~pw, strata=~dnum, data=apiclus1)
d5 <- svydesign(ids=~PSU, strata=~Stratum, weights=~Design_Weight, data=read.csv("s5.csv"))
write.csv(data.frame(tot=sev(svytotal(~api00, ds)), mean=sev(svymean(~api00, ds)),
  byt=sev(svyby(~api00, ~stype, ds, svytotal)), age=sev(svytotal(~Age, d5))),
  "out_se.csv", row.names=FALSE)
""", {"s5": SINGLETON})["se"]
    s = Sample(apiclus1, weight="pw", strata="dnum")
    tot = estimate(s, "api00", stat="total", lonely="adjust-zero")
    mean = estimate(s, "api00", lonely="adjust-zero")
    byt = estimate(s, "api00", stat="total", by="stype", lonely="adjust-zero")
    s5 = Sample(SINGLETON, weight="Design_Weight", strata="Stratum", cluster="PSU")
    age = estimate(s5, "Age", stat="total", lonely="adjust-zero")
    np.testing.assert_allclose(tot["se"].iloc[0], ref["tot"].iloc[0], rtol=1e-9)
    np.testing.assert_allclose(tot["se"].iloc[0], 40509.30504, rtol=1e-9)
    np.testing.assert_allclose(mean["se"].iloc[0], ref["mean"].iloc[0], rtol=1e-9)
    np.testing.assert_allclose(byt["se"], ref["byt"], rtol=1e-9)
    np.testing.assert_allclose(age["se"].iloc[0], ref["age"].iloc[0], rtol=1e-9)


def test_lonely_adjust_matches_r44_rule(apiclus1):
    """lonely="adjust" is R survey >= 4.4's rule: against the rule written in R, and against
    the published numbers (survey's tests/lonely.psu.R vcov 127579.8; apiclus1 36099.0)."""
    ref = run_r(R_ADJUST_44 + r"""
data(api); d5 <- read.csv("s5.csv")
a <- adjust44(apiclus1$pw * apiclus1$api00, apiclus1$dnum, seq_len(nrow(apiclus1)))
b <- adjust44(d5$Design_Weight * d5$Age, d5$Stratum, d5$PSU)
write.csv(data.frame(api=sqrt(a), age=b), "out_v.csv", row.names=FALSE)
""", {"s5": SINGLETON})["v"]
    s = Sample(apiclus1, weight="pw", strata="dnum")
    tot = estimate(s, "api00", stat="total", lonely="adjust")
    np.testing.assert_allclose(tot["se"].iloc[0], ref["api"].iloc[0], rtol=1e-9)
    np.testing.assert_allclose(tot["se"].iloc[0], 36099.0, rtol=1e-5)
    s5 = Sample(SINGLETON, weight="Design_Weight", strata="Stratum", cluster="PSU")
    age = estimate(s5, "Age", stat="total", lonely="adjust")
    np.testing.assert_allclose(age["se"].iloc[0] ** 2, ref["age"].iloc[0], rtol=1e-9)
    np.testing.assert_allclose(age["se"].iloc[0] ** 2, 127579.8, rtol=1e-6)
    # a mean's influence values sum to zero: both rules agree
    a, z = (estimate(s, "api00", lonely=k)["se"].iloc[0] for k in ("adjust", "adjust-zero"))
    np.testing.assert_allclose(a, z, rtol=1e-12)


def test_lonely_values_are_validated(apiclus1):
    s = Sample(apiclus1, weight="pw", strata="dnum")
    with pytest.raises(DataError, match="lonely='adjust0'"):
        estimate(s, "api00", lonely="adjust0")
    with pytest.raises(DataError, match="single PSU"):
        estimate(s, "api00")


@pytest.mark.parametrize("lonely", ["adjust", "adjust-zero", "certainty", "remove"])
def test_jkn_lonely_matches_r_jknweights(apiclus1, lonely):
    """R's jknweights: a lonely stratum's replicate (adjust) has its PSU at 0, every other
    PSU times H/(H-1), rscale (H-1)/H (SE 5.826688); certainty/remove drop the replicate."""
    ref = run_r(SEV + f"""
data(api); options(survey.lonely.psu="{lonely.replace('-zero', '')}")
ds <- svydesign(id=~1, weights=~pw, strata=~dnum, data=apiclus1)
rd <- as.svrepdesign(ds)
write.csv(data.frame(m=sev(svymean(~api00, rd)), t=sev(svytotal(~enroll, rd))),
  "out_se.csv", row.names=FALSE)
""")["se"]
    s = Sample(apiclus1, weight="pw", strata="dnum")
    m = estimate(s, "api00", variance="jackknife", lonely=lonely)
    t = estimate(s, "enroll", stat="total", variance="jackknife", lonely=lonely)
    np.testing.assert_allclose(m["se"].iloc[0], ref["m"].iloc[0], rtol=1e-9)
    np.testing.assert_allclose(t["se"].iloc[0], ref["t"].iloc[0], rtol=1e-9)
    if lonely == "adjust":
        np.testing.assert_allclose(m["se"].iloc[0], 5.826688, rtol=1e-6)


def _rake_targets(pop: pd.DataFrame) -> Targets:
    rows = [{"variable": v, "level": str(k), "total": float(x)}
            for v in ("stype", "sch.wide") for k, x in pop[v].value_counts().items()]
    return Targets.from_frame(pd.DataFrame(rows))


R_RAKE = SEV + r"""
data(api)
pt <- as.data.frame(xtabs(~stype, apipop)); ps <- as.data.frame(xtabs(~sch.wide, apipop))
dclus1 <- svydesign(id=~dnum, weights=~pw, data=apiclus1)
rk <- function(d) rake(d, list(~stype, ~sch.wide), list(pt, ps),
                       control=list(maxit=1000, epsilon=1e-13))
"""


def test_trim_after_rake_linearized_matches_r(apiclus1, apipop):
    """R residualizes with the raked weights stored at rake time (SE 24.1405), not the
    trimmed ones (calib gave 24.0634)."""
    ref = run_r(R_RAKE + r"""
t <- trimWeights(rk(dclus1), upper=45, lower=28, strict=TRUE)
write.csv(data.frame(m=coef(svymean(~api00, t)), se=sev(svymean(~api00, t)),
  tse=sev(svytotal(~enroll, t))), "out_se.csv", row.names=FALSE)
""")["se"]
    s = (Sample(apiclus1, weight="pw", cluster="dnum").rake(_rake_targets(apipop), tol=1e-13)
         .trim(upper=45, lower=28, strict=True))
    e = estimate(s, "api00")
    np.testing.assert_allclose(e["estimate"].iloc[0], ref["m"].iloc[0], rtol=1e-9)
    np.testing.assert_allclose(e["se"].iloc[0], ref["se"].iloc[0], rtol=1e-6)
    np.testing.assert_allclose(e["se"].iloc[0], 24.1405, rtol=1e-5)
    t = estimate(s, "enroll", stat="total")
    np.testing.assert_allclose(t["se"].iloc[0], ref["tse"].iloc[0], rtol=1e-6)
    assert "approximate" not in e.attrs["variance_components"]


def test_trim_after_rake_replicates_match_r_loop(apiclus1, apipop):
    """Replicates of a trimmed sample: each re-raked JK1 replicate trimmed to the same limits
    (among its rows in the replicate; R's trimWeights.svyrep.design makes one pass and lifts
    the dropped PSU's zeros, so the reference is a loop over R's replicates)."""
    ref = run_r(R_RAKE + r"""
trim1 <- function(w, lo, hi) {  # R's trimWeights(strict=TRUE) on the positive weights
  pos <- w > 0; x <- w[pos]
  repeat { out <- x < lo | x > hi; if (!any(out)) break
    nw <- pmax(lo, pmin(x, hi)); nw[!out] <- nw[!out] + sum(x - nw) / sum(!out); x <- nw }
  w[pos] <- x; w }
rd <- rk(as.svrepdesign(dclus1, type="JK1"))
rw <- apply(weights(rd, "analysis"), 2, trim1, lo=28, hi=45)
fw <- trim1(weights(rd, "sampling"), 28, 45)
td <- svrepdesign(data=apiclus1, repweights=rw, weights=fw, type="JK1",
                  combined.weights=TRUE, scale=rd$scale, rscales=rd$rscales)
write.csv(data.frame(m=sev(svymean(~api00, td)), t=sev(svytotal(~enroll, td))),
  "out_se.csv", row.names=FALSE)
""")["se"]
    s = (Sample(apiclus1, weight="pw", cluster="dnum").rake(_rake_targets(apipop), tol=1e-13)
         .trim(upper=45, lower=28, strict=True))
    m = estimate(s, "api00", variance="jackknife")
    t = estimate(s, "enroll", stat="total", variance="jackknife")
    np.testing.assert_allclose(m["se"].iloc[0], ref["m"].iloc[0], rtol=1e-6)
    np.testing.assert_allclose(t["se"].iloc[0], ref["t"].iloc[0], rtol=1e-6)
    rw = replicate_weights(s, "jackknife")
    assert ((rw.to_numpy() == 0) | ((rw.to_numpy() >= 28 - 1e-9)
                                    & (rw.to_numpy() <= 45 + 1e-9))).all()


def test_canty_davison_scale_and_estimator_match_r():
    """variance="canty-davison" is R's as.svrepdesign(type="bootstrap") (bootweights): the
    same scale (n̄/((n̄-1)(R-1)), n̄ the harmonic mean of PSUs per stratum), the same variance
    on our replicate weights given to R's svrepdesign, and the same distribution of the SE
    (R's draws and ours differ: 2,000 replicates each agree within Monte Carlo error)."""
    apistrat = r_api("apistrat")
    s = Sample(apistrat, weight="pw", strata="stype")
    rw = replicate_weights(s, "canty-davison", replicates=40, seed=5)
    assert rw.attrs["type"] == "canty-davison" and rw.attrs["r_type"] == "bootstrap"
    factors = rw.to_numpy() / apistrat["pw"].to_numpy()[:, None]
    for h in ("E", "H", "M"):  # n_h of n_h drawn: factors are counts summing to n_h
        f = factors[(apistrat["stype"] == h).to_numpy()]
        assert np.allclose(f, np.round(f)) and (f.sum(axis=0) == f.shape[0]).all()
    ref = run_r(SEV + r"""
data(api); set.seed(7)
ds <- svydesign(id=~1, weights=~pw, strata=~stype, data=apistrat)
rd <- as.svrepdesign(ds, type="bootstrap", replicates=2000)
rw <- as.matrix(read.csv("rw.csv"))
sc <- as.svrepdesign(ds, type="bootstrap", replicates=40)$scale
od <- svrepdesign(data=apistrat, weights=~pw, repweights=rw, type="bootstrap",
                  combined.weights=TRUE, scale=read.csv("sc.csv")$scale)
write.csv(data.frame(scale40=sc, ours=sev(svymean(~api00, od)),
  ourt=sev(svytotal(~enroll, od)), big=sev(svymean(~api00, rd))), "out_se.csv",
  row.names=FALSE)
""", {"rw": rw, "sc": pd.DataFrame({"scale": [rw.attrs["scale"]]})})["se"]
    np.testing.assert_allclose(rw.attrs["scale"], ref["scale40"].iloc[0], rtol=1e-12)
    m = estimate(s, "api00", variance="canty-davison", replicates=40, seed=5)
    t = estimate(s, "enroll", stat="total", variance="canty-davison", replicates=40, seed=5)
    np.testing.assert_allclose(m["se"].iloc[0], ref["ours"].iloc[0], rtol=1e-9)
    np.testing.assert_allclose(t["se"].iloc[0], ref["ourt"].iloc[0], rtol=1e-9)
    big = estimate(s, "api00", variance="canty-davison", replicates=2000, seed=1)
    # the SE of an SE from R replicates is about SE/sqrt(2R): 1.6%; allow 4 sigma each way
    np.testing.assert_allclose(big["se"].iloc[0], ref["big"].iloc[0], rtol=0.09)
    lin = estimate(s, "api00")["se"].iloc[0]
    np.testing.assert_allclose(big["se"].iloc[0], lin, rtol=0.09)


def test_subbootstrap_is_the_bootstrap():
    s = Sample(pd.DataFrame({"y": np.arange(30.0), "h": np.repeat(["a", "b"], 15)}),
               strata="h")
    a = estimate(s, "y", variance="bootstrap", replicates=30, seed=3)
    b = estimate(s, "y", variance="subbootstrap", replicates=30, seed=3)
    np.testing.assert_allclose(a["se"], b["se"], rtol=0)
    assert b.attrs["variance"] == "bootstrap"
    rw = replicate_weights(s, "subbootstrap", replicates=3, seed=3)
    assert rw.attrs["type"] == "bootstrap" and rw.attrs["r_type"] == "subbootstrap"


def test_cli_canty_davison_and_subbootstrap(tmp_path):
    from calib.cli.main import main

    df = pd.DataFrame({"y": np.arange(40.0) % 7, "h": np.repeat(["a", "b"], 20)})
    df.to_csv(tmp_path / "in.csv", index=False)
    for v in ("canty-davison", "subbootstrap"):
        out = tmp_path / f"{v}.csv"
        assert main(["estimate", str(tmp_path / "in.csv"), "--outcome", "y", "--variance", v,
                     "--replicates", "30", "--seed", "2", "--out", str(out)]) == 0
        want = estimate(Sample(df), "y", variance=v, replicates=30, seed=2)
        np.testing.assert_allclose(pd.read_csv(out)["se"], want["se"], rtol=1e-12)
