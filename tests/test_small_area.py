"""Tests of calib.hybrid.small_area (Fay-Herriot composite) and the small-n PPI corrections.

R's ``sae`` package (``eblupFH`` / ``mseFH``) is the natural reference, but Debian has no
``r-cran-sae`` package (bookworm, checked for issue 15), so the Fay-Herriot core is checked
against closed forms (equal sampling variances: REML is ``RSS/(m-p) - D``) and against a
direct maximisation of the restricted likelihood.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import minimize_scalar
from scipy.special import expit, logit
from scipy.stats import norm, spearmanr
from scipy.stats import t as student_t

from calib.core.errors import DataError
from calib.hybrid import ppi_mean, small_area
from calib.hybrid.ppi import Arms, fit_arms, rectifier_floor
from calib.hybrid.small_area import SMALL_AREA_COLUMNS, fay_herriot


def test_fay_herriot_closed_form_with_equal_variances():
    # m = 6 domains, intercept + slope, D = 0.5 everywhere: REML A = RSS/(m-p) - D
    x = np.column_stack([np.ones(6), [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]])
    y = np.array([0.3, 1.9, 1.2, 3.8, 3.1, 6.0])
    d = 0.5
    f = fay_herriot(y, np.full(6, d), x, tol=1e-14)
    beta = np.linalg.lstsq(x, y, rcond=None)[0]
    rss = float(np.sum((y - x @ beta) ** 2))
    a = rss / 4 - d
    assert a > 0 and f.converged
    assert f.var_between == pytest.approx(a, rel=1e-10)
    assert f.beta == pytest.approx(beta, rel=1e-10)
    g = a / (a + d)
    assert f.gamma == pytest.approx(np.full(6, g), rel=1e-10)
    assert f.eblup == pytest.approx(x @ beta + g * (y - x @ beta), rel=1e-10)
    xtx = np.linalg.inv(x.T @ x)
    lev = np.einsum("ij,jk,ik->i", x, xtx, x)
    g1 = g * d
    g2 = (1 - g) ** 2 * (a + d) * lev  # (X'V^-1X)^-1 = (A + D)(X'X)^-1
    g3 = (1 - g) ** 2 * (2 * (a + d) ** 2 / 6) / (a + d)
    assert f.g1 == pytest.approx(np.full(6, g1), rel=1e-10)
    assert f.g2 == pytest.approx(g2, rel=1e-10)
    assert f.g3 == pytest.approx(np.full(6, g3), rel=1e-10)
    assert f.mse == pytest.approx(g1 + g2 + 2 * g3, rel=1e-10)
    # synthetic prediction for a new domain: A + x'(X'V^-1X)^-1 x
    est, mse = f.synthetic(np.array([[1.0, 6.0]]))
    xn = np.array([1.0, 6.0])
    assert est[0] == pytest.approx(xn @ beta, rel=1e-10)
    assert mse[0] == pytest.approx(a + (a + d) * xn @ xtx @ xn, rel=1e-10)


def test_fay_herriot_truncates_at_zero():
    y = np.array([1.0, 1.1, 0.9, 1.05])
    f = fay_herriot(y, np.full(4, 1.0), np.ones((4, 1)))
    assert f.var_between == 0.0 and np.all(f.gamma == 0)
    assert f.eblup == pytest.approx(np.full(4, y.mean()))
    assert np.all(f.g1 == 0) and np.all(f.mse > 0)  # g2 + 2 g3 remain


def test_fay_herriot_reml_matches_restricted_likelihood_maximum():
    rng = np.random.default_rng(2)
    m = 25
    x = np.column_stack([np.ones(m), rng.normal(size=m)])
    d = rng.uniform(0.05, 0.8, m)
    y = x @ [0.5, 1.0] + rng.normal(0, np.sqrt(0.3), m) + rng.normal(0, np.sqrt(d))

    def neg_reml(a: float) -> float:
        v = a + d
        xtvx = x.T @ (x / v[:, None])
        beta = np.linalg.solve(xtvx, x.T @ (y / v))
        r = y - x @ beta
        return 0.5 * (np.sum(np.log(v)) + np.linalg.slogdet(xtvx)[1] + np.sum(r**2 / v))

    best = minimize_scalar(neg_reml, bounds=(0.0, 5.0), method="bounded",
                           options={"xatol": 1e-12})
    f = fay_herriot(y, d, x, tol=1e-13)
    assert f.var_between == pytest.approx(best.x, abs=1e-6)
    assert np.all(f.mse >= f.g1)
    assert np.all((f.gamma > 0) & (f.gamma < 1))


def _design(rng, m=40, a=0.3, n_max=150, big_n=400, zero=(), one=()):
    """Known truth: the LLM's logit shift in domain d is b_d = -1 + 0.5 z_d + u_d,
    u_d ~ N(0, a). Personas: big_n per domain; humans: n_d uniform in [2, n_max]."""
    doms = [f"d{i:02d}" for i in range(m)]
    z = rng.normal(size=m)
    b = -1.0 + 0.5 * z + rng.normal(0, np.sqrt(a), m)
    base = rng.normal(0, 0.6, m)  # the humans' logit rate in the domain
    llm = expit(base - b)  # the LLM's rate: logit(theta) = logit(phi) + b
    truth = pd.Series(expit(base), index=doms)
    pd_ = np.repeat(np.arange(m), big_n)
    personas = pd.DataFrame({"dom": np.array(doms)[pd_], "z": z[pd_],
                             "llm": (rng.random(pd_.size) < llm[pd_]).astype(int)})
    n = rng.integers(2, n_max + 1, m)
    n[list(zero)] = 0
    n[list(one)] = 1
    hd = np.repeat(np.arange(m), n)
    y = (rng.random(hd.size) < expit(base[hd])).astype(int)
    yh = (rng.random(hd.size) < llm[hd]).astype(int)
    human = pd.DataFrame({"dom": np.array(doms)[hd], "y": y, "llm": yh})
    return personas, human, truth, n, b


def test_small_area_rows_columns_and_tiny_domains():
    rng = np.random.default_rng(7)
    p, h, truth, n, _ = _design(rng, zero=(3, 4), one=(5,))
    t = small_area(p, h, "llm", "y", "dom", predictors=["z"])
    assert list(t.columns) == list(SMALL_AREA_COLUMNS)
    assert t["domain"].tolist() == sorted(truth.index)  # every persona domain, 0 humans too
    row = t.set_index("domain")
    for d in ("d03", "d04", "d05"):
        assert row.at[d, "estimator"] == "synthetic" and row.at[d, "weight_direct"] == 0.0
    assert np.isnan(row.at["d03", "lambda"]) and row.at["d05", "lambda"] == 1.0
    assert row.at["d03", "n_human"] == 0 and row.at["d05", "n_human"] == 1
    assert (t.loc[t["n_human"] >= 2, "estimator"] == "composite").all()
    assert (t["ci_high"] - t["ci_low"] > 0.01).all()  # no zero-width interval
    assert ((t["ci_low"] >= 0) & (t["ci_high"] <= 1)).all()
    assert (t["ci_low"] <= t["estimate"]).all() and (t["estimate"] <= t["ci_high"]).all()
    assert t["var_between"].nunique() == 1
    # a domain list: only those rows, in that order; a domain with no persona is refused
    sub = small_area(p, h, "llm", "y", "dom", domains=["d05", "d03"])
    assert sub["domain"].tolist() == ["d05", "d03"]
    with pytest.raises(DataError, match="no persona"):
        small_area(p, h, "llm", "y", "dom", domains=["zz"])


def test_small_area_composite_lies_between_direct_and_synthetic_and_weights_grow_with_n():
    rng = np.random.default_rng(8)
    p, h, truth, n, _ = _design(rng, m=40, a=0.15, n_max=400)
    t = small_area(p, h, "llm", "y", "dom", predictors=["z"]).set_index("domain")
    fbar = p.groupby("dom")["llm"].mean()
    g = h.groupby("dom")
    direct = logit((fbar + g["y"].mean() - g["llm"].mean()).clip(0.01, 0.99)) - logit(fbar)
    beta = t.attrs["beta"]
    z = p.groupby("dom")["z"].first()
    syn = beta["(Intercept)"] + beta["z"] * z
    comp = logit(t["estimate"]) - logit(fbar)
    lo, hi = np.minimum(direct, syn), np.maximum(direct, syn)
    assert ((comp >= lo - 1e-9) & (comp <= hi + 1e-9)).all()
    gam = t["weight_direct"]
    assert comp.to_numpy() == pytest.approx((gam * direct + (1 - gam) * syn).to_numpy(), abs=1e-9)
    assert spearmanr(t["n_human"], gam).statistic > 0.8  # D_d also depends on the domain's rate
    assert gam[t["n_human"] > 300].min() > gam[t["n_human"] < 20].max()
    # weight_direct -> 1 as every domain's human sample grows (20 copies: n_d up to 8,000)
    big = small_area(p, pd.concat([h] * 20), "llm", "y", "dom", predictors=["z"])
    assert big["weight_direct"].min() > 0.9
    assert (big["weight_direct"].to_numpy() > gam.to_numpy()).all()


def test_small_area_recovers_between_domain_variance_on_a_big_design():
    rng = np.random.default_rng(9)
    p, h, _, _, b = _design(rng, m=300, a=0.2, n_max=300, big_n=300)
    t = small_area(p, h, "llm", "y", "dom", predictors=["z"])
    assert t["var_between"].iloc[0] == pytest.approx(0.2, abs=0.06)
    assert t.attrs["beta"]["z"] == pytest.approx(0.5, abs=0.1)
    assert t.attrs["converged"]


def test_small_area_interval_covers_and_is_wider_than_g1_only():
    rng = np.random.default_rng(10)
    p, h, truth, _, _ = _design(rng, m=60, a=0.2, n_max=80)
    t = small_area(p, h, "llm", "y", "dom", predictors=["z"]).set_index("domain")
    cov = ((t["ci_low"] <= truth) & (truth <= t["ci_high"])).mean()
    assert cov >= 0.85
    # the MSE includes g2 + 2 g3 (and the persona arm): never below the g1-only width
    a = t["var_between"].iloc[0]
    g = t["weight_direct"]
    th = t["estimate"]
    # g1 = gamma D = gamma (1 - gamma) A on the logit scale
    g1_se = th * (1 - th) * np.sqrt(g * (1 - g) * a)
    assert (t["se"] >= g1_se - 1e-12).all()


def test_small_area_refuses_bad_input():
    rng = np.random.default_rng(11)
    p, h, _, _, _ = _design(rng, m=10)
    with pytest.raises(DataError, match="logit scale"):
        small_area(p.assign(llm=p["llm"] * 3), h, "llm", "y", "dom")
    with pytest.raises(DataError, match="constant within"):
        small_area(p.assign(g=rng.choice(["a", "b"], len(p))), h, "llm", "y", "dom", groups=["g"])
    with pytest.raises(DataError, match="no persona"):
        small_area(p, pd.concat([h, h.iloc[:1].assign(dom="new")]), "llm", "y", "dom")


def test_small_area_in_the_harness_gives_every_state_a_row():
    from calib.studies.comparison import compare
    from calib.studies.election_study import election_study

    st = election_study(2024, per_state=300, human_n=400, seed=3, persona_types=("descriptive",))
    bench = st.truth_state.set_index("state")["dem_two_party_share"]
    c = compare(st.personas, "vote_dem", benchmark=bench, frame=st.frame,
                methods=("rake", "small-area"), variables=("age6", "sex", "educ5"),
                human=st.human, human_outcome="vote_dem", llm_outcome="llm_vote_dem", seed=0)
    s = c.summary.set_index("method")
    assert s.at["small-area", "status"] == "ok"
    assert s.at["small-area", "domains"] == 50
    assert s.at["small-area", "rmse"] < 0.3 * s.at["rake", "rmse"]
    t = c.table[c.table["method"] == "small-area"]
    assert (t["n_human"] < 2).any() or (t["estimator"] == "composite").all()


# -- direct PPI at small n ------------------------------------------------------------------

def _arms(y, yhat, f):
    return Arms(np.asarray(f, float), np.ones(len(f)), np.asarray(y, float),
                np.asarray(yhat, float), np.ones(len(y)))


def test_small_n_ppi_refuses_one_human_and_names_the_alternative():
    with pytest.raises(DataError, match="small_area"):
        fit_arms(_arms([1.0], [1.0], [0.0, 1.0, 1.0]))


def test_small_n_ppi_interval_never_has_zero_width():
    # every human agrees with the LLM: the residuals are all 0, the plain variance is 0
    y = np.array([1.0, 0.0, 1.0, 1.0, 0.0])
    f = np.random.default_rng(0).integers(0, 2, 5000).astype(float)
    fit = fit_arms(_arms(y, y, f))
    assert fit.lam == 1.0 and fit.df == 4.0
    assert fit.var >= rectifier_floor(5) / 5
    old = fit_arms(_arms(y, y, f), lam=1.0, small_n=0)  # the ppi_py convention: no floor
    assert old.var == pytest.approx(np.var(f) / f.size, rel=1e-12)  # the human arm adds 0


def test_small_n_ppi_uses_t_quantile_and_n_over_n_minus_1():
    rng = np.random.default_rng(1)
    n = 12
    y = (rng.random(n) < 0.5).astype(float)
    yh = np.where(rng.random(n) < 0.7, y, 1 - y)
    f = (rng.random(4000) < 0.5).astype(float)
    h = pd.DataFrame({"y": y, "llm": yh})
    p = pd.DataFrame({"llm": f})
    new = ppi_mean(p, h, "llm", "y").iloc[0]
    old = ppi_mean(p, h, "llm", "y", lam=1.0, small_n=0).iloc[0]
    assert new["lambda"] == 1.0 and new["estimate"] == pytest.approx(old["estimate"])
    r = y - yh
    v_h = np.var(r) / n
    v_p = np.var(f) / f.size
    assert old["se"] ** 2 == pytest.approx(v_h + v_p, rel=1e-10)
    assert new["se"] ** 2 == pytest.approx(v_h * n / (n - 1) + v_p, rel=1e-10)
    half = (new["ci_high"] - new["ci_low"]) / 2
    assert half == pytest.approx(student_t.ppf(0.975, n - 1) * new["se"], rel=1e-10)
    assert (old["ci_high"] - old["ci_low"]) / 2 == pytest.approx(norm.ppf(0.975) * old["se"])
    # at and above SMALL_N humans nothing changes (large-n numbers stay the ppi_py ones)
    y2 = (rng.random(60) < 0.5).astype(float)
    h2 = pd.DataFrame({"y": y2, "llm": np.where(rng.random(60) < 0.7, y2, 1 - y2)})
    a, b = ppi_mean(p, h2, "llm", "y").iloc[0], ppi_mean(p, h2, "llm", "y", small_n=0).iloc[0]
    assert a[["estimate", "se", "ci_low", "ci_high", "lambda"]].tolist() == \
        b[["estimate", "se", "ci_low", "ci_high", "lambda"]].tolist()


def test_small_area_warns_when_a_group_has_no_domain_with_humans():
    rng = np.random.default_rng(12)
    p, h, _, _, _ = _design(rng, m=12)
    grp = {f"d{i:02d}": ("a" if i < 6 else "b" if i < 11 else "c") for i in range(12)}
    p["g"] = p["dom"].map(grp)
    h = h[h["dom"] != "d11"]  # group c has no human
    with pytest.warns(UserWarning, match=r"g\[c\]"):
        t = small_area(p, h, "llm", "y", "dom", groups=["g"])
    assert t.set_index("domain").at["d11", "estimator"] == "synthetic"
