import numpy as np
import pandas as pd
import pytest

from calib import Sample, Targets
from calib.core.errors import ConvergenceError, DataError, TargetError


def _sample(n=4000, seed=0):
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "age": rng.choice(["18-29", "30-44", "45-64", "65+"], n, p=[0.4, 0.3, 0.2, 0.1]),
            "sex": rng.choice(["Female", "Male"], n, p=[0.35, 0.65]),
            "state": rng.choice(["TX", "CA", "NY"], n),
        }
    )


def _targets(pop=1e6):
    rows = [
        ("age", "18-29", 0.2), ("age", "30-44", 0.25), ("age", "45-64", 0.33), ("age", "65+", 0.22),
        ("sex", "Female", 0.51), ("sex", "Male", 0.49),
    ]  # fmt: skip
    return Targets.from_frame(pd.DataFrame(rows, columns=["variable", "level", "share"]), pop)


def test_rake_hits_margins_and_records_history():
    df = _sample()
    s = Sample(df).rake(_targets())
    w = s.weights
    np.testing.assert_allclose(w.groupby(df["sex"]).sum().loc[["Female", "Male"]], [510e3, 490e3], rtol=1e-9)
    np.testing.assert_allclose(
        w.groupby(df["age"]).sum().loc[["18-29", "30-44", "45-64", "65+"]],
        [200e3, 250e3, 330e3, 220e3],
        rtol=1e-9,
    )
    step = s.history[-1]
    assert step.method == "rake" and step.converged and step.max_error < 1e-10
    assert step.history[0] > step.history[-1]
    assert s.calibrations[-1].X.shape[1] == 6


def test_rake_equals_closed_form_for_one_margin():
    df = _sample()
    s = Sample(df).rake(_targets().select(["sex"]))
    # one margin: raking = poststratification, w = N_h / n_h
    n_h = df["sex"].value_counts()
    expect = df["sex"].map({"Female": 510e3 / n_h["Female"], "Male": 490e3 / n_h["Male"]})
    np.testing.assert_allclose(s.weights, expect, rtol=1e-12)


def test_joint_margin_by_state():
    df = _sample()
    rows = []
    for st, tot in [("TX", 300.0), ("CA", 500.0), ("NY", 200.0)]:
        for a, sh in [("18-29", 0.3), ("30-44", 0.3), ("45-64", 0.25), ("65+", 0.15)]:
            rows.append(("age:state", f"{a}:{st}", tot * sh))
    rows += [("sex", "Female", 520.0), ("sex", "Male", 480.0)]
    t = Targets.from_frame(pd.DataFrame(rows, columns=["variable", "level", "total"]))
    w = Sample(df).rake(t).weights
    got = w.groupby([df["age"], df["state"]]).sum()
    assert np.isclose(got[("65+", "NY")], 30.0) and np.isclose(got[("18-29", "CA")], 150.0)


def test_cap_is_enforced():
    df = _sample()
    s = Sample(df).rake(_targets(), cap=3.0)
    w = s.weight_array
    assert w.max() <= 3.0 * w.mean() * (1 + 1e-9)


def test_nonconvergence_names_worst_margin():
    df = _sample()
    with pytest.raises(ConvergenceError, match="worst margin"):
        Sample(df).rake(_targets(), cap=1.05, max_iter=50)
    with pytest.warns(UserWarning, match="did not converge"):
        s = Sample(df).rake(_targets(), cap=1.05, max_iter=50, allow_nonconvergence=True)
    assert not s.history[-1].converged


def test_empty_cell_and_unknown_level_errors():
    df = _sample()
    df2 = df[df["age"] != "65+"]
    with pytest.raises(TargetError, match=r"no sample \(empty cells\): \['65\+'\]"):
        Sample(df2).rake(_targets())
    df3 = df.copy()
    df3.loc[df3.index[:3], "sex"] = "Other"
    with pytest.raises(DataError, match=r"'Other' \(3 rows\)"):
        Sample(df3).rake(_targets())


def test_missing_drop_reports_count():
    df = _sample()
    df.loc[df.index[:7], "sex"] = None
    with pytest.raises(DataError, match="7 rows"):
        Sample(df).rake(_targets())
    with pytest.warns(UserWarning, match="7 rows dropped"):
        s = Sample(df).rake(_targets(), missing="drop")
    assert s.n == len(df) - 7 and s.history[-1].dropped == {"sex": 7}


def test_bad_weights_are_errors():
    df = _sample(10)
    with pytest.raises(DataError, match="negative"):
        Sample(df, weight=[-1.0] + [1.0] * 9)
    with pytest.raises(DataError, match="missing or infinite"):
        Sample(df, weight=[np.nan] + [1.0] * 9)
