"""optimal(): checked against raking (IPF), the closed form of linear calibration computed
independently on the rows with numpy, and the closed form of the least-variance weights."""

import numpy as np
import pandas as pd
import pytest

from calib import Sample, Targets
from calib.core.errors import DataError, InfeasibleError
from calib.weighting.optimal import optimal

AGES = ["18-29", "30-44", "45-64", "65+"]


def _frame(n=3000, seed=1):
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "age": rng.choice(AGES, n, p=[0.4, 0.3, 0.2, 0.1]),
            "sex": rng.choice(["Female", "Male"], n, p=[0.35, 0.65]),
            "income": rng.gamma(2.0, 20.0, n).round(1),
            "w0": rng.uniform(0.5, 2.0, n),
        }
    )


def _rows():
    return [
        ("age", "18-29", 200.0), ("age", "30-44", 250.0), ("age", "45-64", 330.0),
        ("age", "65+", 220.0), ("sex", "Female", 510.0), ("sex", "Male", 490.0),
    ]  # fmt: skip


def _targets(se=None, extra=()):
    df = pd.DataFrame(list(_rows()) + list(extra), columns=["variable", "level", "total"])
    if se is not None:
        df["se"] = se
    return Targets.from_frame(df)


def _indicators(df):
    cols = [(df["age"] == a) for a in AGES] + [(df["sex"] == s) for s in ["Female", "Male"]]
    return np.column_stack(cols).astype(float)


def test_kl_unbounded_equals_raking():
    df = _frame()
    s = Sample(df, weight="w0")
    t = _targets()
    np.testing.assert_allclose(optimal(s, t).weights, s.rake(t).weights, rtol=1e-6)


def test_chi2_unbounded_equals_linear_calibration_closed_form():
    df = _frame()
    t = _targets(extra=[("income", "", 41_000.0)])
    s = optimal(Sample(df, weight="w0"), t, divergence="chi2")
    # independent closed form on the rows: w = d (1 + x' lam), (X'DX) lam = T - X'd
    d = df["w0"].to_numpy()
    X = np.column_stack([_indicators(df), df["income"].to_numpy()])
    T = np.array([r[2] for r in _rows()] + [41_000.0])
    lam = np.linalg.pinv(X.T @ (d[:, None] * X)) @ (T - X.T @ d)
    expect = d * (1 + X @ lam)
    np.testing.assert_allclose(s.weights.to_numpy(), expect, rtol=1e-6)
    assert s.history[-1].calibration.distance == "linear"


def test_bounded_chi2_meets_bounds_and_margins():
    df = _frame()
    s = optimal(Sample(df), _targets(), divergence="chi2", bounds=(0.4, 2.5))
    g = s.weights.to_numpy() / (1000.0 / len(df))  # bounds apply to the scaled input weights
    assert g.min() >= 0.4 - 1e-7 and g.max() <= 2.5 + 1e-7
    assert g.max() > 2.49  # the bound binds (65+ needs g = 2.2 alone, with sex on top)
    w = s.weights
    np.testing.assert_allclose(w.groupby(df["age"]).sum().loc[AGES], [200, 250, 330, 220], rtol=1e-7)
    np.testing.assert_allclose(w.groupby(df["sex"]).sum().loc[["Female", "Male"]], [510, 490], rtol=1e-7)


def test_variance_divergence_is_least_variance_solution():
    df = _frame()
    s = optimal(Sample(df, weight="w0"), _targets(), divergence="variance")
    # closed form: rows of one cell share g; min sum_c S_c g_c^2 st A'g = T
    # -> g_c = (W_c / S_c) x_c' lam, i.e. w_i = d_i W_c / S_c x_c' lam
    d = df["w0"].to_numpy()
    key = df["age"] + "|" + df["sex"]
    W = d.copy()
    S = pd.Series(d**2).groupby(key.to_numpy()).transform("sum").to_numpy()
    Wc = pd.Series(W).groupby(key.to_numpy()).transform("sum").to_numpy()
    X = _indicators(df)
    q = Wc / S  # per row
    T = np.array([r[2] for r in _rows()])
    lam = np.linalg.pinv(X.T @ ((d * q)[:, None] * X)) @ T
    expect = d * q * (X @ lam)
    np.testing.assert_allclose(s.weights.to_numpy(), expect, rtol=1e-6)
    # and its Kish ESS is at least that of the raking weights
    r = Sample(df, weight="w0").rake(_targets()).weights.to_numpy()
    w = s.weights.to_numpy()
    assert w.sum() ** 2 / (w**2).sum() >= r.sum() ** 2 / (r**2).sum() - 1e-9


def test_soft_targets_follow_small_se():
    df = _frame()
    # sex targets disagree with the raked fit; Female has a small se, Male a large one
    se = [np.nan] * 4 + [1.0, 100.0]
    rows = _rows()[:4] + [("sex", "Female", 560.0), ("sex", "Male", 440.0)]
    t = Targets.from_frame(pd.DataFrame(rows, columns=["variable", "level", "total"]).assign(se=se))
    base = optimal(Sample(df), _targets()).weights.groupby(df["sex"]).sum()
    s = optimal(Sample(df), t, soft=True, divergence="chi2")
    got = s.weights.groupby(df["sex"]).sum()
    np.testing.assert_allclose(s.weights.groupby(df["age"]).sum().loc[AGES], [200, 250, 330, 220], rtol=1e-7)
    assert abs(got["Female"] - 560) < 2.0  # se 1: close to its target
    assert abs(base["Female"] - 510) < 1e-5
    assert "soft" in s.history[-1].notes[0]


def test_soft_needs_se():
    with pytest.raises(DataError, match="se"):
        optimal(Sample(_frame()), _targets(), soft=True)


def test_tolerance_allows_relative_error():
    df = _frame()
    s = optimal(Sample(df), _targets(), divergence="chi2", bounds=(0.5, 1.8), tolerance=0.2)
    w = s.weights
    got = w.groupby(df["age"]).sum().loc[AGES].to_numpy()
    assert np.all(np.abs(got / [200, 250, 330, 220] - 1) <= 0.2 + 1e-6)


def test_infeasible_names_conflicting_margins():
    with pytest.raises(InfeasibleError, match=r"'age' level '65\+'.*Widen the bounds"):
        optimal(Sample(_frame()), _targets(), divergence="chi2", bounds=(0.9, 1.1))


def test_bad_options():
    s = Sample(_frame())
    with pytest.raises(DataError, match="divergence"):
        optimal(s, _targets(), divergence="hellinger")
    with pytest.raises(DataError, match="L < 1 < U"):
        optimal(s, _targets(), bounds=(1.2, 3))


def test_negative_unbounded_chi2_weights_are_refused():
    t = _targets(extra=[("income", "", 48_000.0)])
    with pytest.raises(InfeasibleError, match="negative weights.*bounds=\\(0, U\\)"):
        optimal(Sample(_frame(), weight="w0"), t, divergence="chi2")


def _soft_kkt_residual(s, df, se_soft, divergence):
    """Relative KKT residual of the documented soft objective at the returned weights:
    ``sum_c W_c D(g_c) + sum_j ((achieved_j - T_j) / se_j)^2``, ``W_c`` the input cell weights
    scaled to the population, the age entries hard. Stationarity, divided by ``W_c``:
    ``D'(g_c) + 2 sum_j x_cj (achieved_j - T_j) / se_j^2`` lies in the span of the hard
    entries' columns."""
    cal = s.history[-1].calibration
    W = cal.cells.weight
    pop = 1000.0
    gp = cal.g * W.sum() / pop  # g relative to the weights scaled to the population
    X = cal.X
    soft = np.flatnonzero(~np.isnan(se_soft))
    hard = np.flatnonzero(np.isnan(se_soft))
    achieved = X.T @ (W * cal.g)
    T = cal.totals
    dprime = np.log(gp) if divergence == "kl" else gp - 1.0
    grad = dprime + 2 * X[:, soft] @ ((achieved[soft] - T[soft]) / se_soft[soft] ** 2)
    lam, *_ = np.linalg.lstsq(X[:, hard], grad, rcond=None)
    return np.linalg.norm(grad - X[:, hard] @ lam) / np.linalg.norm(grad)


@pytest.mark.parametrize("divergence", ["kl", "chi2"])
@pytest.mark.parametrize("se_female", [5.0, 50.0])
def test_soft_solution_minimizes_the_documented_objective(divergence, se_female):
    """Behaviour change (issue 17): the penalty is no longer N times the documented one; the
    returned weights satisfy the stationarity (KKT) conditions of the documented objective."""
    df = _frame()
    se = np.array([np.nan] * 4 + [se_female, 60.0])
    rows = _rows()[:4] + [("sex", "Female", 560.0), ("sex", "Male", 440.0)]
    t = Targets.from_frame(pd.DataFrame(rows, columns=["variable", "level", "total"]).assign(se=se))
    s = optimal(Sample(df, weight="w0"), t, soft=True, divergence=divergence)
    assert _soft_kkt_residual(s, df, se, divergence) < 1e-5
    got = s.weights.groupby(df["sex"]).sum()
    assert abs(got["Female"] - 560) > 1.0  # a soft target with se 5-50 of 1,000 moves


def test_larger_se_moves_more():
    df = _frame()
    rows = _rows()[:4] + [("sex", "Female", 560.0), ("sex", "Male", 440.0)]
    miss = []
    for se_f in (2.0, 20.0, 200.0):
        se = [np.nan] * 4 + [se_f, se_f]
        t = Targets.from_frame(pd.DataFrame(rows, columns=["variable", "level", "total"])
                               .assign(se=se))
        got = optimal(Sample(df, weight="w0"), t, soft=True, divergence="chi2")
        miss.append(abs(got.weights.groupby(df["sex"]).sum()["Female"] - 560))
    assert miss[0] < miss[1] < miss[2]
    assert miss[2] > 20  # a se of 20% of the population leaves the target far
