"""propensity(): balance on a simulated selection, the cell fit against an independent
row-level fit, regularization, trimming, bad input."""

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import minimize
from scipy.special import log_expit

from calib import Sample
from calib.core.errors import DataError
from calib.weighting.propensity import propensity

AGE = ["18-29", "30-44", "45-64", "65+"]
RACE = ["White", "Black", "Hispanic", "Other"]
EDUC = ["No HS", "HS", "Some college", "4-Year College", "Post-grad"]


def _population(n, rng):
    return pd.DataFrame(
        {
            "age4": rng.choice(AGE, n, p=[0.2, 0.25, 0.33, 0.22]),
            "sex": rng.choice(["Female", "Male"], n, p=[0.51, 0.49]),
            "race4": rng.choice(RACE, n, p=[0.62, 0.12, 0.17, 0.09]),
            "educ5": rng.choice(EDUC, n, p=[0.1, 0.28, 0.3, 0.2, 0.12]),
        }
    )


def _selected(pop, n, rng):
    """Personas drawn with a known main-effects selection model (young, educated, female)."""
    lin = (
        pop["age4"].map(dict(zip(AGE, [1.0, 0.5, 0.0, -0.8], strict=True))).to_numpy()
        + pop["educ5"].map(dict(zip(EDUC, [-1.0, -0.4, 0.0, 0.5, 0.9], strict=True))).to_numpy()
        + np.where(pop["sex"] == "Female", 0.4, 0.0)
        + np.where(pop["race4"] == "White", 0.3, 0.0)
    )
    p = np.exp(lin)
    idx = rng.choice(len(pop), n, replace=False, p=p / p.sum())
    return pop.iloc[idx].reset_index(drop=True)


def test_simulated_selection_is_balanced():
    rng = np.random.default_rng(11)
    pop = _population(300_000, rng)
    personas = _selected(pop, 20_000, rng)
    ref = pop.sample(15_000, random_state=3).reset_index(drop=True)
    ref["wt"] = 1000.0  # design weights of an SRS
    s = propensity(Sample(personas), ref, reference_weight="wt")
    step = s.history[-1]
    before, after = step.options["asmd_before"], step.options["asmd_after"]
    assert set(before) == {"age4", "sex", "race4", "educ5"}
    for v in before:
        assert after[v] < before[v]
        assert after[v] < 0.05, (v, after[v])
    assert max(before.values()) > 0.2  # the selection was strong
    assert s.weights.sum() == pytest.approx(ref["wt"].sum(), rel=1e-12)
    # true population shares are recovered too (young share 0.20)
    young = s.weights[personas["age4"] == "18-29"].sum() / s.weights.sum()
    assert young == pytest.approx(0.2, abs=0.01)
    assert step.calibration is None and "age4=30-44" in step.options["coefficients"]


def _row_fit(personas, ref, variables):
    """Independent row-level weighted logistic fit (no cells), same coding and scaling."""
    stacked = pd.concat([personas[variables], ref[variables]], ignore_index=True)
    cats = {v: sorted(ref[v].unique()) for v in variables}
    cols = [np.ones(len(stacked))]
    names = ["(intercept)"]
    for v in variables:
        for lev in cats[v][1:]:
            cols.append((stacked[v] == lev).to_numpy(dtype=float))
            names.append(f"{v}={lev}")
    X = np.column_stack(cols)
    y = np.r_[np.ones(len(personas)), np.zeros(len(ref))]
    n = len(personas)
    wt = np.r_[np.ones(n), ref["wt"].to_numpy() * n / ref["wt"].sum()]

    def nll(b):
        eta = X @ b
        return -(wt * (y * log_expit(eta) + (1 - y) * log_expit(-eta))).sum() / n

    res = minimize(nll, np.zeros(X.shape[1]), method="BFGS", options={"gtol": 1e-10})
    return dict(zip(names, res.x, strict=True))


def test_cell_fit_equals_row_level_fit():
    rng = np.random.default_rng(5)
    pop = _population(50_000, rng)
    personas = _selected(pop, 3000, rng)
    ref = pop.sample(2000, random_state=1).reset_index(drop=True)
    ref["wt"] = rng.uniform(0.5, 3.0, len(ref))
    variables = ["age4", "sex", "educ5"]
    s = propensity(Sample(personas), ref, variables=variables, reference_weight="wt", C=np.inf)
    got = s.history[-1].options["coefficients"]
    expect = _row_fit(personas, ref, variables)
    assert set(got) == set(expect)
    for k in expect:
        assert got[k] == pytest.approx(expect[k], abs=1e-5), k


def test_regularization_shrinks_coefficients():
    rng = np.random.default_rng(2)
    pop = _population(40_000, rng)
    personas = _selected(pop, 2000, rng)
    ref = pop.sample(2000, random_state=2)
    norm = {}
    for C in (np.inf, 1.0, 0.01):
        co = propensity(Sample(personas), ref, C=C).history[-1].options["coefficients"]
        norm[C] = np.linalg.norm([v for k, v in co.items() if k != "(intercept)"])
    assert norm[np.inf] > norm[1.0] > norm[0.01]


def test_trim_caps_and_keeps_total():
    rng = np.random.default_rng(4)
    pop = _population(40_000, rng)
    personas = _selected(pop, 2000, rng)
    ref = Sample(pop.sample(3000, random_state=4), weight=np.full(3000, 2.0))
    s = propensity(Sample(personas), ref, trim=2.0)
    w = s.weights.to_numpy()
    assert w.max() <= 2.0 * w.mean() * (1 + 1e-9)
    assert w.sum() == pytest.approx(6000.0)
    assert "trimmed" in s.history[-1].notes[0]


def test_bad_input():
    personas = pd.DataFrame({"sex": ["Female", "Male", "Other"]})
    ref = pd.DataFrame({"sex": ["Female", "Male"]})
    with pytest.raises(DataError, match="reference support"):
        propensity(Sample(personas), ref)
    with pytest.raises(DataError, match="share no harmonized variable"):
        propensity(Sample(pd.DataFrame({"x": [1]})), pd.DataFrame({"y": [1]}))
    with pytest.raises(DataError, match="C="):
        propensity(Sample(personas), ref, C=0)
    with pytest.raises(DataError, match="'wt'"):
        propensity(Sample(personas), ref, reference_weight="wt")


def test_any_lbfgs_failure_raises(monkeypatch):
    """Behaviour change (issue 17): an L-BFGS failure before the iteration limit (e.g. an
    abnormal line search) raised nothing and the step said converged=False; it raises."""
    from scipy.optimize import OptimizeResult

    import calib.weighting.propensity as mod
    from calib.core.errors import ConvergenceError

    def failing(f, x0, **kw):
        return OptimizeResult(x=x0, success=False, nit=3, message="ABNORMAL_TERMINATION")

    monkeypatch.setattr(mod, "minimize", failing)
    rng = np.random.default_rng(0)
    pop = _population(2000, rng)
    with pytest.raises(ConvergenceError, match="stopped after 3 iterations.*ABNORMAL"):
        propensity(Sample(_selected(pop, 300, rng)), pop)


def test_cli_penalty_c_and_variables(tmp_path, capsys):
    """``calib weight --method propensity --penalty-c C --variables a,b`` is propensity(C=,
    variables=); --population is refused naming the methods it applies to."""
    from calib.cli.main import main

    rng = np.random.default_rng(4)
    pop = _population(4000, rng)
    sel = _selected(pop, 500, rng)
    sel.to_csv(tmp_path / "in.csv", index=False)
    pop.to_csv(tmp_path / "ref.csv", index=False)
    out = tmp_path / "out.csv"
    base = ["weight", str(tmp_path / "in.csv"), "--method", "propensity", "--reference",
            str(tmp_path / "ref.csv"), "--out", str(out)]
    assert main([*base, "--penalty-c", "0.05", "--variables", "age4,sex",
                 "--variables", "educ5"]) == 0
    got = pd.read_csv(out)["weight"].to_numpy()
    want = propensity(Sample(pd.read_csv(tmp_path / "in.csv")), pd.read_csv(tmp_path / "ref.csv"),
                      C=0.05, variables=["age4", "sex", "educ5"]).weight_array
    np.testing.assert_allclose(got, want, rtol=1e-9)
    other = propensity(Sample(sel), pop, C=1.0).weight_array
    assert not np.allclose(got, other, rtol=1e-3)
    capsys.readouterr()
    assert main([*base, "--overwrite", "--population", "1000"]) != 0
    err = capsys.readouterr().err
    assert "--population does not apply to --method propensity" in err
    assert main([*base, "--overwrite", "--penalty-c", "0"]) != 0
    assert "--penalty-c 0.0" in capsys.readouterr().err
