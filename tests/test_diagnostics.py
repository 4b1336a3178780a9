"""calib.weighting.diagnostics: hand-computed ESS / deff, margin table vs a groupby on the rows, ASMD by
hand and against the balance package."""

import json
import math

import numpy as np
import pandas as pd
import pytest

from calib import Sample, Targets
from calib.core.errors import DataError
from calib.weighting.diagnostics import (
    asmd,
    design_effect,
    kish_ess,
    margin_table,
    summary,
    weight_summary,
)


def test_kish_by_hand():
    w = [1.0, 2.0, 3.0, 6.0]
    # (sum w)^2 / sum w^2 = 144 / 50; deff = n / n_eff = 4 * 50 / 144
    assert kish_ess(w) == pytest.approx(144 / 50)
    assert design_effect(w) == pytest.approx(200 / 144)
    # deff = 1 + CV^2 with the population variance
    a = np.array(w)
    assert design_effect(w) == pytest.approx(1 + (a.std() / a.mean()) ** 2)
    assert kish_ess(np.ones(7)) == pytest.approx(7.0) and design_effect(np.ones(7)) == 1.0


def test_weight_summary_by_hand():
    w = np.r_[np.ones(18), 6.0, 12.0]  # mean 36 / 20 = 1.8
    s = weight_summary(w)
    assert s["n"] == 20 and s["total"] == 36 and s["min"] == 1 and s["max"] == 12
    assert s["mean"] == pytest.approx(1.8)
    assert s["max_min_ratio"] == 12
    assert s["above_3x_mean"] == pytest.approx(2 / 20)  # 6 and 12 exceed 5.4
    assert s["above_5x_mean"] == pytest.approx(1 / 20)  # 12 exceeds 9
    assert s["above_10x_mean"] == 0.0  # 18 > 12
    assert s["cv"] == pytest.approx(np.std(w) / 1.8)


@pytest.mark.parametrize("bad", [[1.0, -1.0], [1.0, np.nan], [0.0, 0.0], []])
def test_bad_weights_refused(bad):
    with pytest.raises(DataError, match="weights"):
        kish_ess(bad)


def _data(n=2000, seed=3):
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "age": rng.choice(["18-29", "30-44", "45-64", "65+"], n, p=[0.4, 0.3, 0.2, 0.1]),
            "sex": rng.choice(["Female", "Male"], n, p=[0.35, 0.65]),
            "state": rng.choice(["TX", "CA"], n),
            "w0": rng.uniform(1, 3, n),
        }
    )


def _targets():
    rows = [
        ("age", "18-29", 0.2), ("age", "30-44", 0.25), ("age", "45-64", 0.33), ("age", "65+", 0.22),
        ("sex", "Female", 0.51), ("sex", "Male", 0.49),
    ]  # fmt: skip
    return Targets.from_frame(pd.DataFrame(rows, columns=["variable", "level", "share"]), 1e4)


def test_margin_table_matches_groupby_on_rows():
    df = _data()
    s = Sample(df, weight="w0").rake(_targets())
    tab = margin_table(s, _targets()).set_index(["margin", "level"])
    for var in ["age", "sex"]:
        un = df[var].value_counts(normalize=True)
        before = df.groupby(var)["w0"].sum() / df["w0"].sum()
        after = s.weights.groupby(df[var]).sum() / s.weights.sum()
        sub = tab.loc[var]
        np.testing.assert_allclose(sub["sample_share"], un.loc[sub.index], rtol=1e-12)
        np.testing.assert_allclose(sub["before_share"], before.loc[sub.index], rtol=1e-12)
        np.testing.assert_allclose(sub["after_share"], after.loc[sub.index], rtol=1e-12)
        assert (sub["n"] == df[var].value_counts().loc[sub.index]).all()
    assert tab["error"].abs().max() < 1e-9
    assert tab.loc[("age", "65+"), "target_share"] == pytest.approx(0.22)


def test_margin_table_joint_and_extra_levels():
    df = _data()
    rows = [("age:state", f"{a}:{st}", 1.0) for a in ["18-29", "30-44", "45-64"] for st in ["TX", "CA"]]
    t = Targets.from_frame(pd.DataFrame(rows, columns=["variable", "level", "total"]))
    tab = margin_table(Sample(df), t).set_index("level")
    assert tab["target_share"].sum() == pytest.approx(1.0)
    # 65+ is in the sample but not the targets: listed with target share 0
    extra = tab.loc["65+:TX"]
    assert extra["target_share"] == 0.0
    assert extra["n"] == ((df["age"] == "65+") & (df["state"] == "TX")).sum()
    assert tab["sample_share"].sum() == pytest.approx(1.0)


def test_asmd_by_hand():
    df = pd.DataFrame({"a": ["x", "y", "y", "z"]})
    ref = pd.DataFrame({"a": ["x", "y", "z", "z", "x"]})
    w = [1.0, 2.0, 1.0, 1.0]  # shares x .2, y .6, z .2; reference .4 .2 .4
    expect = np.mean(
        [0.2 / math.sqrt(0.24), 0.4 / math.sqrt(0.16), 0.2 / math.sqrt(0.24)]
    )
    assert asmd(df, w, ref)["a"] == pytest.approx(expect)


def test_asmd_against_balance_package():
    from balance.stats_and_plots.weighted_comparisons_stats import asmd as b_asmd

    rng = np.random.default_rng(0)
    df = pd.DataFrame({"a": rng.choice(list("xyz"), 300, p=[0.5, 0.3, 0.2])})
    ref = pd.DataFrame({"a": rng.choice(list("xyz"), 400, p=[0.3, 0.3, 0.4])})
    w = rng.uniform(0.5, 2, 300)
    b = b_asmd(
        pd.get_dummies(df).astype(float), pd.get_dummies(ref).astype(float),
        pd.Series(w), pd.Series(np.ones(400)), std_type="target",
    )  # fmt: skip
    # balance divides by the reference's sample sd (n - 1); we use sqrt(p (1 - p))
    n = len(ref)
    ours = asmd(df, w, ref)["a"] * math.sqrt((n - 1) / n)
    assert ours == pytest.approx(float(b["mean(asmd)"]), rel=1e-9)


def test_asmd_numeric_by_hand():
    df = pd.DataFrame({"x": [1.0, 2.0, 3.0]})
    ref = pd.DataFrame({"x": [0.0, 2.0, 4.0, 2.0], "wt": [1.0, 1.0, 1.0, 1.0]})
    # mean ref 2, sd sqrt(2); weighted mean (1 + 2 + 9) / 5 = 2.4
    got = asmd(df, [1.0, 1.0, 3.0], ref, reference_weight="wt")["x"]
    assert got == pytest.approx(0.4 / math.sqrt(2))


def test_summary_with_targets_and_reference():
    df = _data()
    t = _targets()
    s = Sample(df, weight="w0").rake(t)
    d = s.diagnostics()
    w = s.weights.to_numpy()
    assert d.n == len(df) and d.n_eff == pytest.approx(w.sum() ** 2 / (w**2).sum())
    assert d.method == "rake"
    assert d.asmd.loc["sex", "after"] < 1e-9 < d.asmd.loc["sex", "before"]
    assert set(d.margins["margin"]) == {"age", "sex"}
    js = json.loads(json.dumps(d.to_dict()))
    assert js["asmd"][0]["variable"] in ("age", "sex")
    text = str(d)
    assert "Kish n_eff" in text and "margins" in text and "ASMD" in text
    ref = _data(5000, seed=9).assign(sex=lambda f: np.where(f["age"] == "65+", "Female", f["sex"]))
    r = summary(s, reference=Sample(ref, weight="w0"), variables=["age", "sex"])
    assert list(r.asmd.index) == ["age", "sex"] and r.margins is None


def test_summary_unweighted_sample():
    d = summary(Sample(_data()))
    assert d.deff == 1.0 and d.margins is None and d.asmd is None and d.method is None
