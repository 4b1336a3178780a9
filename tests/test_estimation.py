"""estimate(): strata, lonely PSUs, JKn against R survey; missing values, errors, replicate
weights, target uncertainty."""

import numpy as np
import pandas as pd
import pytest
from rsurvey import run_r

from calib import Sample, Targets
from calib.core.errors import DataError
from calib.estimation import COLUMNS, estimate, replicate_weights

STRAT_SCRIPT = r"""
data(api)
ps <- as.data.frame(xtabs(~sch.wide, apipop)); pa <- as.data.frame(xtabs(~awards, apipop))
d <- svydesign(id=~1, strata=~stype, weights=~pw, data=apistrat)
rk <- function(d) rake(d, list(~sch.wide, ~awards), list(ps, pa),
                       control=list(maxit=1000, epsilon=1e-13))
out <- function(d, kind) {
  m <- svymean(~api00, d); b <- svyby(~api00, ~stype, d, svymean)
  data.frame(kind=kind, domain=c("", as.character(b$stype)),
             estimate=as.vector(c(coef(m), coef(b))),
             se=as.vector(c(SE(m), SE(b))))
}
res <- rbind(out(rk(d), "lin"), out(rk(as.svrepdesign(d, type="JKn")), "jkn"))
# lonely PSUs: strata = county, clusters = district, in apiclus2 (some counties have one)
dat <- apiclus1
dat$st <- ifelse(dat$dnum == min(dat$dnum), "solo", ifelse(dat$dnum %% 2 == 0, "a", "b"))
stopifnot(length(unique(dat$dnum[dat$st == "solo"])) == 1)
for (lp in c("adjust", "certainty", "remove")) {
  options(survey.lonely.psu=lp)
  dl <- svydesign(id=~dnum, strata=~st, weights=~pw, data=dat)
  m <- svymean(~api00, dl)
  res <- rbind(res, data.frame(kind=lp, domain="", estimate=as.vector(coef(m)),
                               se=as.vector(SE(m))))
}
d1 <- svydesign(id=~dnum, weights=~pw, data=apiclus1)
write.csv(data.frame(m=deff(svymean(~api00, d1, deff="replace")),
  t=deff(svytotal(~enroll, d1, deff="replace"))), "out_deff.csv", row.names=FALSE)
write.csv(apiclus1, "out_clus1.csv", row.names=FALSE)
pt <- as.data.frame(xtabs(~stype, apipop))
d2 <- rake(postStratify(d1, ~stype, pt), list(~sch.wide, ~awards), list(ps, pa),
           control=list(maxit=1000, epsilon=1e-13))
m <- svymean(~api00, d2); b <- svyby(~api00, ~stype, d2, svymean)
write.csv(data.frame(domain=c("", as.character(b$stype)), estimate=as.vector(c(coef(m),
  coef(b))), se=as.vector(c(SE(m), SE(b)))), "out_chained.csv", row.names=FALSE)
write.csv(data.frame(variable="stype", level=pt$stype, total=pt$Freq), "out_tstype.csv",
  row.names=FALSE)
write.csv(res, "out_res.csv", row.names=FALSE)
write.csv(dat, "out_dat.csv", row.names=FALSE)
write.csv(apistrat, "out_apistrat.csv", row.names=FALSE)
write.csv(rbind(data.frame(variable="sch.wide", level=ps$sch.wide, total=ps$Freq),
  data.frame(variable="awards", level=pa$awards, total=pa$Freq)), "out_targets.csv",
  row.names=FALSE)
"""


@pytest.fixture(scope="module")
def strat():
    return run_r(STRAT_SCRIPT)


def _cmp(mine: pd.DataFrame, ref: pd.DataFrame) -> None:
    ref = ref.assign(domain=ref["domain"].fillna("").astype(str))
    m = mine.merge(ref, on="domain")
    assert len(m) == len(ref) == len(mine)
    np.testing.assert_allclose(m["estimate_x"], m["estimate_y"], rtol=1e-6)
    np.testing.assert_allclose(m["se_x"], m["se_y"], rtol=1e-5)


@pytest.mark.parametrize("kind", ["lin", "jkn"])
def test_stratified_raked_matches_r(strat, kind):
    s = Sample(strat["apistrat"], weight="pw", strata="stype")
    s = s.rake(Targets.from_frame(strat["targets"]), tol=1e-13)
    variance = "linearization" if kind == "lin" else "jackknife"
    mine = pd.concat([estimate(s, "api00", variance=variance),
                      estimate(s, "api00", by="stype", variance=variance)])
    ref = strat["res"]
    _cmp(mine, ref[ref["kind"] == kind])


@pytest.mark.parametrize("lonely", ["adjust", "certainty", "remove"])
def test_lonely_psu_matches_r(strat, lonely):
    dat = strat["dat"]
    s = Sample(dat, weight="pw", strata="st", cluster="dnum")
    ref = strat["res"]
    _cmp(estimate(s, "api00", lonely=lonely), ref[ref["kind"] == lonely])


def test_lonely_psu_is_an_error_by_default(strat):
    s = Sample(strat["dat"], weight="pw", strata="st", cluster="dnum")
    with pytest.raises(DataError, match="single PSU.*lonely="):
        estimate(s, "api00")


def _toy(n=400, seed=0):
    rng = np.random.default_rng(seed)
    df = pd.DataFrame({
        "sex": rng.choice(["F", "M"], n, p=[0.3, 0.7]),
        "age": rng.choice(["y", "m", "o"], n, p=[0.5, 0.3, 0.2]),
        "vote": rng.choice(["D", "R", "O"], n),
    })
    df["y"] = rng.normal(size=n) + (df["sex"] == "F")
    t = Targets.from_frame(pd.DataFrame({
        "variable": ["sex", "sex", "age", "age", "age"], "level": ["F", "M", "y", "m", "o"],
        "share": [0.5, 0.5, 0.3, 0.4, 0.3], "se": [0.01, 0.01, 0.02, 0.02, 0.02]}),
        population=1000.0)
    return df, t


def test_columns_categorical_levels_and_attrs():
    df, t = _toy()
    est = Sample(df).rake(t).estimate("vote", by="sex")
    assert tuple(est.columns) == COLUMNS
    assert est["level"].tolist() == ["D", "D", "O", "O", "R", "R"]
    sums = est.groupby("domain")["estimate"].sum()
    np.testing.assert_allclose(sums, 1.0)
    assert "weight calibration (rake" in est.attrs["variance_components"]
    assert (est["n"].groupby(est["level"]).sum() == len(df)).all()


def test_missing_outcome_is_counted_and_warned():
    df, t = _toy()
    df.loc[:9, "y"] = np.nan
    with pytest.warns(UserWarning, match="10 rows with a missing value"):
        est = estimate(Sample(df), "y")
    assert est.attrs["missing"] == 10 and est["n"].iloc[0] == len(df) - 10
    np.testing.assert_allclose(est["estimate"].iloc[0], df["y"].mean())


def test_unweighted_mean_se_is_the_textbook_one():
    df, _ = _toy()
    est = estimate(Sample(df), "y")
    y = df["y"].to_numpy()
    assert est["se"].iloc[0] == pytest.approx(y.std(ddof=1) / np.sqrt(y.size), rel=1e-12)
    assert est["deff"].iloc[0] == pytest.approx(1.0, rel=1e-12)
    assert est["ci_high"].iloc[0] - est["estimate"].iloc[0] == pytest.approx(
        1.959963984540054 * est["se"].iloc[0])


def test_bootstrap_is_reproducible_and_replicates_meet_targets():
    df, t = _toy()
    s = Sample(df).rake(t)
    a = replicate_weights(s, "bootstrap", replicates=20, seed=3)
    b = replicate_weights(s, "bootstrap", replicates=20, seed=3)
    pd.testing.assert_frame_equal(a, b)
    sums = a.groupby(df["sex"]).sum()
    np.testing.assert_allclose(sums.to_numpy(), 500.0, rtol=1e-8)
    assert estimate(s, "y", variance="bootstrap", replicates=20, seed=3)["se"].iloc[0] > 0


def test_targets_se_widens_bootstrap_interval():
    df, t = _toy(2000)
    s = Sample(df).rake(t)
    plain = estimate(s, "y", variance="bootstrap", replicates=300, seed=1)
    wide = estimate(s, "y", variance="bootstrap", replicates=300, seed=1, targets_se=True)
    # y has a F-M gap of 1, the F share an se of 0.01: the mean gains var ~ (1 * 0.01)^2
    extra = wide["se"].iloc[0] ** 2 - plain["se"].iloc[0] ** 2
    assert 0.3e-4 < extra < 3e-4
    assert "target uncertainty" in wide.attrs["variance_components"]
    with pytest.raises(DataError, match="variance='bootstrap'"):
        estimate(s, "y", targets_se=True)


def test_bad_options_are_errors():
    df, _ = _toy()
    s = Sample(df)
    with pytest.raises(DataError, match="variance="):
        estimate(s, "y", variance="sandwich")
    with pytest.raises(DataError, match="not a column"):
        estimate(s, "nope")
    with pytest.raises(DataError, match="0/1 outcome"):
        estimate(s, "y", stat="proportion")


def test_deff_matches_r_replace(strat):
    s = Sample(strat["clus1"], weight="pw", cluster="dnum")
    ref = strat["deff"]
    assert estimate(s, "api00")["deff"].iloc[0] == pytest.approx(ref["m"].iloc[0], rel=1e-6)
    got = estimate(s, "enroll", stat="total")["deff"].iloc[0]
    assert got == pytest.approx(ref["t"].iloc[0], rel=1e-6)


def test_chained_poststratify_then_rake_matches_r(strat):
    t1 = Targets.from_frame(strat["tstype"])
    t2 = Targets.from_frame(strat["targets"])
    s = Sample(strat["clus1"], weight="pw", cluster="dnum").poststratify(t1).rake(t2, tol=1e-13)
    mine = pd.concat([estimate(s, "api00"), estimate(s, "api00", by="stype")])
    _cmp(mine, strat["chained"])


@pytest.mark.parametrize("cluster", [None, "b"])
def test_bootstrap_se_equals_exported_replicates(cluster):
    """The cell path of estimate() and the exported row-level replicate weights agree."""
    df, t = _toy()
    df["b"] = np.arange(len(df)) % 40
    df.loc[:49, "y"] = np.nan
    s = Sample(df, cluster=cluster).rake(t)
    rw = replicate_weights(s, "bootstrap", replicates=30, seed=5)
    ok = df["y"].notna().to_numpy()
    th = (rw[ok].mul(df.loc[ok, "y"], axis=0).sum() / rw[ok].sum()).to_numpy()
    se = np.sqrt(((th - th.mean()) ** 2).sum() / (len(th) - 1))
    with pytest.warns(UserWarning, match="missing"):
        est = estimate(s, "y", variance="bootstrap", replicates=30, seed=5)
    assert est["se"].iloc[0] == pytest.approx(se, rel=1e-9)
    assert rw.attrs["type"] == "bootstrap"


def _binary(n=3000, seed=4):
    df, t = _toy(n, seed)
    df["b"] = np.arange(len(df)) % 60
    df["st"] = np.where(df["age"] == "o", "s1", "s2")
    df["yes"] = (df["y"] > 0.5).astype(float)
    return df, t


def test_grouped_bootstrap_with_clusters_equals_exported_replicates():
    """Clustered designs draw the PSUs as the row path: the grouped cell sums are exact."""
    df, t = _binary()
    s = Sample(df, cluster="b").rake(t)
    rw = replicate_weights(s, "bootstrap", replicates=40, seed=8)
    th = (rw.mul(df["yes"], axis=0).sum() / rw.sum()).to_numpy()
    se = np.sqrt(((th - th.mean()) ** 2).sum() / (len(th) - 1))
    est = estimate(s, "yes", variance="bootstrap", replicates=40, seed=8,
                   bootstrap_draw="groups")
    assert est.attrs["bootstrap_draw"].startswith("groups")
    assert est["se"].iloc[0] == pytest.approx(se, rel=1e-9)


def test_grouped_bootstrap_draw_has_the_row_draw_distribution():
    """Rows as PSUs (with strata): group counts are multinomial; each replicate puts n_h draws
    of weight on stratum h, and over many replicates the grouped SE agrees with the row-draw SE
    within Monte Carlo error (relative sd of an SE from R replicates ~ 1/sqrt(2R))."""
    from calib.estimation.compiled.grouped import group_factors, row_groups
    from calib.estimation.replicates import plan

    df, t = _binary(2000)
    s = Sample(df, strata="st").rake(t)
    p = plan(s, "bootstrap", 10, seed=1)
    rc = np.zeros(len(df), dtype=np.int64)
    g = row_groups(p, rc, np.ones(len(df)), df[["yes"]].to_numpy())
    assert g is not None and g.n_groups == 4  # 2 strata x 2 outcome values
    nh = df["st"].value_counts()
    for r in range(5):
        f = group_factors(p, g, r)
        for h, lab in enumerate(p.design.strata_labels):
            assert f[g.unit == h].sum() == pytest.approx(nh[lab])
    R = 1500
    a = estimate(s, "yes", variance="bootstrap", replicates=R, seed=2, bootstrap_draw="groups")
    b = estimate(s, "yes", variance="bootstrap", replicates=R, seed=3, bootstrap_draw="rows")
    assert a.attrs["bootstrap_draw"].startswith("groups") and b.attrs["bootstrap_draw"] == "rows"
    assert a["se"].iloc[0] == pytest.approx(b["se"].iloc[0], rel=4 * np.sqrt(1 / R))
    lin = estimate(s, "yes")
    assert a["se"].iloc[0] == pytest.approx(lin["se"].iloc[0], rel=0.1)


def test_continuous_outcomes_draw_cells_then_rows_with_the_row_draw_distribution():
    """A continuous outcome does not collapse into groups: cell counts are drawn, then rows
    within cells; the SE agrees with the row draw's within Monte Carlo error, with strata."""
    df, t = _binary(1500)
    s = Sample(df, strata="st").rake(t)
    R = 1500
    a = estimate(s, "y", variance="bootstrap", replicates=R, seed=2, bootstrap_draw="groups")
    b = estimate(s, "y", variance="bootstrap", replicates=R, seed=3, bootstrap_draw="rows")
    assert a.attrs["bootstrap_draw"].startswith("cells then rows")
    assert b.attrs["bootstrap_draw"] == "rows"
    assert a["se"].iloc[0] == pytest.approx(b["se"].iloc[0], rel=4 * np.sqrt(1 / R))
    again = estimate(s, "y", variance="bootstrap", replicates=40, seed=2, bootstrap_draw="groups")
    first = estimate(s, "y", variance="bootstrap", replicates=40, seed=2, bootstrap_draw="groups")
    assert again["se"].iloc[0] == first["se"].iloc[0]  # reproducible from the seed


def test_one_request_object_for_every_estimate_path(tmp_path):
    """estimate(sample, "y", **options), estimate(sample, EstimateRequest(...)),
    Sample.estimate and the CLI's run give the same table; options are checked up front."""
    from calib.cli.commands._weighting import WeightingOptions
    from calib.cli.commands.estimate import EstimateCommand, run
    from calib.estimation import EstimateRequest
    from calib.outofcore.estimate import estimate_files
    from calib.outofcore.filesample import FileSample

    df, t = _toy()
    s = Sample(df).rake(t)
    opts = {"by": "age", "variance": "bootstrap", "replicates": 30, "seed": 2}
    a = estimate(s, "y", **opts)
    req = EstimateRequest("y", **opts)
    for b in (estimate(s, req), s.estimate(req), estimate(s, EstimateRequest("y"), **opts)):
        pd.testing.assert_frame_equal(a, b)
        assert a.attrs == b.attrs
    with pytest.raises(DataError, match="unknown estimate option 'varience'"):
        estimate(s, "y", varience="bootstrap")
    # checked when the request is made, whatever the variance (was: only with replicates)
    with pytest.raises(DataError, match="bootstrap_draw='cells'"):
        EstimateRequest("y", bootstrap_draw="cells")  # type: ignore[arg-type]
    with pytest.raises(DataError, match="level=1.5"):
        EstimateRequest("y", level=1.5)
    df.assign(w=s.weight_array).to_csv(tmp_path / "in.csv", index=False)
    cmd = EstimateCommand(tmp_path / "in.csv", tmp_path / "e.csv", weight="w")
    got = run(cmd, EstimateRequest("y", by="age"), WeightingOptions())
    want = estimate(Sample(df.assign(w=s.weight_array), weight="w"), "y", by="age")
    np.testing.assert_allclose(got["estimate"], want["estimate"], rtol=1e-12)
    # the out-of-core estimate takes the same request and refuses what it cannot do
    df[["y"]].to_parquet(tmp_path / "p.parquet")
    fs = FileSample.from_files(tmp_path / "p.parquet")
    assert estimate_files(fs, EstimateRequest("y", level=0.9))["estimate"].iloc[0] == \
        pytest.approx(df["y"].mean(), rel=1e-12)
    with pytest.raises(DataError, match="variance='bootstrap'"):
        estimate_files(fs, EstimateRequest("y", variance="bootstrap"))
