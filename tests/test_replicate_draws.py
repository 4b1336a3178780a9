"""The compiled replicate machinery: exact multinomial draws, batch raking, threads, errors."""

import itertools
import math

import numpy as np
import pandas as pd
import pytest
from scipy.stats import chi2

from calib import Sample, Targets
from calib.core.errors import DataError
from calib.estimation import estimate
from calib.estimation.compiled import multinomial as mn
from calib.estimation.compiled.grouped import _counting_order
from calib.estimation.compiled.ipf_batch import NOT_CONVERGED, ipf_batch
from calib.weighting.ipf import ipf


def _joint_pvalue(em: mn.ExactMultinomial, N: int, p: np.ndarray, draws: int, seed: int):
    """Chi-square p-value of the drawn joint counts against the Multinomial(N, p) pmf."""
    rng = np.random.default_rng(seed)
    seen: dict[tuple, int] = {}
    for _ in range(draws):
        x = tuple(em.draw(rng).tolist())
        seen[x] = seen.get(x, 0) + 1
    stat, df = 0.0, -1
    for x in itertools.product(range(N + 1), repeat=p.size):
        if sum(x) != N:
            continue
        pmf = math.factorial(N) * np.prod([q**k / math.factorial(k) for q, k in zip(p, x, strict=True)])
        exp = draws * pmf
        if exp >= 5:
            stat += (seen.pop(x, 0) - exp) ** 2 / exp
            df += 1
    assert sum(seen.values()) < 0.01 * draws  # outcomes off the support or very rare
    return chi2.sf(stat, df)


@pytest.mark.parametrize("slack", [3.0, 0.0, -1.0])
def test_exact_multinomial_joint_law(slack):
    """Every joint outcome of Multinomial(5, p) at its pmf: the usual fix-up (slack 3), half
    the draws redrawn (slack 0), nearly all redrawn (slack -1: Poisson mean above N)."""
    w = np.array([1.0, 2.0, 4.0])
    em = mn.ExactMultinomial.build(w, np.zeros(3, int), np.array([5]), slack=slack)
    assert _joint_pvalue(em, 5, w / w.sum(), 20_000, seed=11) > 1e-3


def test_exact_multinomial_strata_sums_and_moments():
    """Two strata (one of equal categories, as rows), totals exact, means and covariances
    those of the multinomial."""
    w = np.array([3.0, 1.0, 1.0, 1.0, 1.0, 2.0, 5.0])
    st = np.array([1, 0, 0, 0, 0, 1, 1])  # unsorted on purpose
    nd = np.array([30, 400])
    em = mn.ExactMultinomial.build(w, st, nd)
    rng = np.random.default_rng(3)
    X = np.array([em.draw(rng) for _ in range(20_000)])
    assert (X[:, st == 0].sum(1) == 30).all() and (X[:, st == 1].sum(1) == 400).all()
    p = np.where(st == 0, w / w[st == 0].sum(), w / w[st == 1].sum())
    N = nd[st]
    se_mean = np.sqrt(N * p * (1 - p) / len(X))
    assert np.all(np.abs(X.mean(0) - N * p) < 4 * se_mean)
    np.testing.assert_allclose(X.var(0), N * p * (1 - p), rtol=0.05)
    c = np.cov(X[:, 0], X[:, 5])[0, 1]  # same stratum: -N p_i p_j
    assert c == pytest.approx(-400 * p[0] * p[5], rel=0.08)
    assert abs(np.corrcoef(X[:, 0], X[:, 1])[0, 1]) < 0.03  # different strata: independent


def test_tables_and_walk_give_the_same_counts(monkeypatch):
    """Both invert the same Poisson CDF with the same uniforms: identical counts."""
    w = np.random.default_rng(0).integers(1, 400, 3000).astype(float)
    st = np.repeat([0, 1, 2], 1000)
    nd = np.array([50_000, 200_000, 10])
    tabled = mn.ExactMultinomial.build(w, st, nd)
    assert (tabled.tab >= 0).all()
    monkeypatch.setattr(mn, "TABLE_BUDGET", 0)
    walked = mn.ExactMultinomial.build(w, st, nd)
    assert (walked.tab < 0).all()
    for seed in range(5):
        np.testing.assert_array_equal(tabled.draw_sorted(seed), walked.draw_sorted(seed))


def test_exact_multinomial_rejects_bad_weights():
    with pytest.raises(DataError, match="positive"):
        mn.ExactMultinomial.build(np.array([1.0, 0.0]), np.zeros(2, int), np.array([3]))


def test_ipf_batch_equals_ipf_and_reports_failures():
    rng = np.random.default_rng(5)
    a, b = rng.integers(0, 4, 200), rng.integers(0, 3, 200)
    m = 12
    cell = a * 3 + b
    idx = [np.arange(m) // 3, np.arange(m) % 3]
    W = np.stack([np.bincount(cell, weights=rng.random(200), minlength=m) for _ in range(3)])
    ta, tb = np.array([10.0, 20.0, 30.0, 40.0]), np.array([50.0, 25.0, 25.0])
    T = np.tile(np.concatenate([ta, tb]), (3, 1))
    got = ipf_batch(W, idx, T, tol=1e-12)
    assert (got.status > 0).all()
    for r in range(3):
        ref = ipf(W[r], idx, [ta, tb], tol=1e-12)
        np.testing.assert_allclose(got.weight[r], ref.weight, rtol=1e-9)
    W0 = W.copy()
    W0[1, idx[0] == 2] = 0.0  # level 2 of the first margin has no weight in replicate 2
    bad = ipf_batch(W0, idx, T)
    assert bad.status[1] == -2 - 2 and bad.status[0] > 0
    few = ipf_batch(W, idx, T, max_iter=1)  # one sweep is not enough
    assert (few.status == NOT_CONVERGED).all()


def test_counting_order_is_a_stable_sort():
    key = np.random.default_rng(1).integers(0, 50, 10_000)
    np.testing.assert_array_equal(_counting_order(key, 50), np.argsort(key, kind="stable"))


def _sample(n=4000, seed=2):
    rng = np.random.default_rng(seed)
    df = pd.DataFrame({"sex": rng.choice(["F", "M"], n, p=[0.3, 0.7]),
                       "age": rng.choice(["y", "m", "o"], n),
                       "st": rng.choice(["a", "b", "c"], n)})
    df["yes"] = (rng.random(n) < np.where(df["sex"] == "F", 0.6, 0.4)).astype(float)
    df["y"] = rng.normal(size=n) + (df["age"] == "o")
    t = Targets.from_frame(pd.DataFrame({
        "variable": ["sex", "sex", "age", "age", "age"], "level": ["F", "M", "y", "m", "o"],
        "share": [0.5, 0.5, 0.3, 0.3, 0.4]}), population=1e6)
    return df, t


@pytest.mark.parametrize("outcome", ["yes", "y"])
def test_results_do_not_depend_on_threads(monkeypatch, outcome):
    df, t = _sample()
    s = Sample(df, strata="st").rake(t)
    kw = dict(variance="bootstrap", replicates=30, seed=4, bootstrap_draw="groups")
    monkeypatch.setenv("CALIB_THREADS", "1")
    one = estimate(s, outcome, **kw)
    monkeypatch.setenv("CALIB_THREADS", "3")
    three = estimate(s, outcome, **kw)
    pd.testing.assert_frame_equal(one, three)
    monkeypatch.setenv("CALIB_THREADS", "zero")
    with pytest.raises(DataError, match="CALIB_THREADS"):
        estimate(s, outcome, **kw)


def test_lonely_stratum_keeps_its_rows_in_the_grouped_draw():
    """A single-row stratum (lonely='certainty') keeps factor 1 in every replicate: the grouped
    draw's SE agrees with the row draw's within Monte Carlo error."""
    df, t = _sample(3000)
    df.loc[0, "st"] = "solo"
    s = Sample(df, strata="st").rake(t)
    R = 1200
    kw = dict(variance="bootstrap", replicates=R, lonely="certainty")
    a = estimate(s, "yes", seed=1, bootstrap_draw="groups", **kw)
    b = estimate(s, "yes", seed=2, bootstrap_draw="rows", **kw)
    assert a.attrs["bootstrap_draw"].startswith("groups")
    assert a["se"].iloc[0] == pytest.approx(b["se"].iloc[0], rel=4 * np.sqrt(1 / R))


def test_rake_replicate_without_weight_in_a_level_names_it():
    """A replicate that loses every row of a margin level cannot be re-raked: the error names
    the margin, the level and the fixes."""
    df, t = _sample(400)
    df["tiny"] = np.where(np.arange(400) == 0, "x", "z")
    tt = Targets.from_frame(pd.DataFrame({"variable": ["tiny", "tiny"], "level": ["x", "z"],
                                          "share": [0.01, 0.99]}), population=1e6)
    s = Sample(df).rake(tt)
    with pytest.raises(DataError, match=r"margin 'tiny' level 'x'.*collapse"):
        estimate(s, "yes", variance="bootstrap", replicates=50, seed=1)


def test_fused_rake_path_equals_the_chunked_path():
    """Re-raking each drawn replicate in its own thread gives the numbers of raking them in
    chunks after the draws."""
    from calib.estimation import domains, replicates
    from calib.estimation.cell_replicates import fast_thetas
    from calib.estimation.linearization import calibration_chain

    df, t = _sample()
    s = Sample(df, strata="st").rake(t)
    chain, _ = calibration_chain(s)
    est = domains.build(s.frame, "yes", "age", "mean")
    plan = replicates.plan(s, "bootstrap", 25, 9, "error")
    fused = fast_thetas(s, plan, chain, est, grouped=True, fused_rake=True)
    chunked = fast_thetas(s, plan, chain, est, grouped=True, fused_rake=False)
    assert fused is not None and chunked is not None and fused[1] != "rows"
    np.testing.assert_allclose(fused[0], chunked[0], rtol=1e-10)


@pytest.mark.parametrize("outcome", ["yes", "y"])
def test_drawn_replicates_after_poststratify_agree_with_the_row_draw(outcome):
    """Methods other than rake recalibrate drawn cell sums in chunks (closed form here)."""
    df, t = _sample(3000)
    ps = Targets.from_frame(pd.DataFrame({"variable": ["age"] * 3, "level": ["y", "m", "o"],
                                          "share": [0.3, 0.3, 0.4]}), population=1e6)
    s = Sample(df).poststratify(ps)
    R = 1200
    a = estimate(s, outcome, variance="bootstrap", replicates=R, seed=1, bootstrap_draw="groups")
    b = estimate(s, outcome, variance="bootstrap", replicates=R, seed=2, bootstrap_draw="rows")
    assert a.attrs["bootstrap_draw"] != "rows"
    assert a["se"].iloc[0] == pytest.approx(b["se"].iloc[0], rel=4 * np.sqrt(1 / R))


@pytest.mark.parametrize("outcome,by", [("y", "st"), ("y", "sex"), ("st", "age")])
def test_domain_replicates_through_subcells_equal_exported_weights(outcome, by):
    """Domains inside calibration cells (by='st') or made of them (by='sex', a margin), a
    numeric or a categorical outcome, missing outcomes and domains: the sub-cell path gives
    the SEs of the exported replicate weights."""
    from calib.estimation import replicate_weights

    df, t = _sample(1500)
    df.loc[:30, "y"] = np.nan
    df.loc[40:60, "st"] = None
    s = Sample(df).rake(t)
    rw = replicate_weights(s, "bootstrap", replicates=20, seed=3)
    with pytest.warns(UserWarning):
        est = estimate(s, outcome, by=by, variance="bootstrap", replicates=20, seed=3,
                       bootstrap_draw="rows")
    assert len(est) > 1
    for _, row in est.iterrows():
        dom = df[by].astype(str) == row["domain"]
        if outcome == "y":
            ok, y = dom & df["y"].notna(), df["y"].fillna(0.0)
        else:
            ok, y = dom & df["st"].notna(), (df["st"] == row["level"]).astype(float)
        th = (rw[ok].mul(y[ok], axis=0).sum() / rw[ok].sum()).to_numpy()
        se = np.sqrt(((th - th.mean()) ** 2).sum() / (len(th) - 1))
        assert row["se"] == pytest.approx(se, rel=1e-9), row.to_dict()


def test_domain_estimates_with_the_compiled_draw_agree_with_the_row_draw():
    df, t = _sample(3000)
    s = Sample(df).rake(t)
    R = 1000
    a = estimate(s, "yes", by="st", variance="bootstrap", replicates=R, seed=1,
                 bootstrap_draw="groups")
    b = estimate(s, "yes", by="st", variance="bootstrap", replicates=R, seed=2,
                 bootstrap_draw="rows")
    assert a.attrs["bootstrap_draw"].startswith("groups")
    np.testing.assert_allclose(a["se"], b["se"], rtol=4 * np.sqrt(1 / R))
    np.testing.assert_allclose(a["estimate"], b["estimate"], rtol=1e-12)
