"""Cell-based diagnostics (issue 19): the margin table and ASMD from per-cell sums equal a
brute-force groupby of row-level level text, with missing levels, extra levels, joint margins
and numeric auxiliaries; diagnostics after trimming and chains of steps keep the margins."""

import numpy as np
import pandas as pd
import pytest

from calib import Sample, Targets
from calib.core.cells import format_level
from calib.core.targets import JOINT_SEP
from calib.weighting.diagnostics import MISSING, asmd, margin_table, row_cells, summary


def _text(frame, variables):
    """Row-level level text, the way the diagnostics used to group (the brute force)."""
    parts = [frame[v].map(lambda x: MISSING if pd.isna(x) else format_level(x)) for v in variables]
    lab = parts[0].astype(object)
    for p in parts[1:]:
        lab = lab + JOINT_SEP + p.astype(object)
    return lab


def _brute_shares(frame, variables, w):
    lab = _text(frame, variables)
    return pd.Series(w, index=frame.index).groupby(lab.to_numpy(), sort=False).sum() / w.sum()


def _frame(n=3000, seed=11):
    rng = np.random.default_rng(seed)
    age = rng.choice(["18-29", "30-44", "45-64", "65+"], n, p=[0.4, 0.3, 0.2, 0.1]).astype(object)
    region = rng.choice(["N", "S", "E", "W"], n).astype(object)
    region[rng.random(n) < 0.05] = None  # a missing level
    return pd.DataFrame({
        "age": age,
        "sex": pd.Categorical(rng.choice(["F", "M"], n, p=[0.4, 0.6])),
        "region": region,
        "kids": rng.choice([0.0, 1.0, 2.0, 3.0], n),  # numbers format as level text '0', '1'...
        "income": np.where(rng.random(n) < 0.03, np.nan, rng.gamma(2.0, 20.0, n)),
        "w0": rng.uniform(0.5, 3.0, n),
    })


def _targets(n):
    rows = [("age", "18-29", 0.2), ("age", "30-44", 0.25), ("age", "45-64", 0.33),
            ("age", "65+", 0.22), ("sex", "F", 0.51), ("sex", "M", 0.49)]
    t = pd.DataFrame(rows, columns=["variable", "level", "share"])
    return Targets.from_frame(t, population=float(n))


def test_row_cells_shares_equal_a_row_groupby():
    df = _frame()
    w = df["w0"].to_numpy()
    for variables in (["region"], ["age", "region"], ["kids", "sex"], ["sex", "region", "kids"]):
        cs = row_cells(df, variables, {"w": w})
        got = cs.shares(variables, "w")
        want = _brute_shares(df, variables, w)
        assert sorted(got.index) == sorted(want.index)
        np.testing.assert_allclose(got.reindex(want.index).to_numpy(), want.to_numpy(),
                                   rtol=1e-12)


def test_margin_table_equals_brute_force_with_missing_extra_joint_and_numeric():
    df = _frame()
    s = Sample(df, weight="w0").rake(_targets(len(df)))
    # diagnostic targets unlike the calibration's: a joint margin, a region margin without
    # 'W' (an extra level with target 0) and the missing level, kids, a numeric auxiliary
    n = float(len(df))
    rows = [("age:region", f"{a}:{r}", n / 6) for a in ["18-29", "30-44"] for r in "NSE"]
    rows += [("region", r, n / 3) for r in "NSE"] + [("kids", k, n / 4) for k in "0123"]
    rows += [("income", "", 45.0 * n)]  # a numeric auxiliary: its population total
    t = Targets.from_frame(pd.DataFrame(rows, columns=["variable", "level", "total"]),
                           population=n)
    tab = margin_table(s, t)
    w = {"sample_share": np.ones(len(df)), "before_share": df["w0"].to_numpy(),
         "after_share": s.weight_array}
    for m in t:
        sub = tab[tab["margin"] == m.name].set_index("level")
        if m.numeric:
            x = df[m.variables[0]].to_numpy()
            ok = np.isfinite(x)
            for col, ww in w.items():
                assert sub[col].iloc[0] == pytest.approx(np.average(x[ok], weights=ww[ok]),
                                                         rel=1e-12)
            assert sub["n"].iloc[0] == ok.sum()
            continue
        lab = _text(df, m.variables)
        counts = lab.value_counts(sort=False)
        names = m.level_labels()
        extra = [lv for lv in counts.index if lv not in set(names)]
        assert list(sub.index) == [*names, *extra]  # same rows in the same order as before
        for col, ww in w.items():
            want = _brute_shares(df, m.variables, ww).reindex(sub.index, fill_value=0.0)
            np.testing.assert_allclose(sub[col].to_numpy(), want.to_numpy(), rtol=1e-12,
                                       atol=1e-15)
        assert (sub["n"] == counts.reindex(sub.index, fill_value=0)).all()
    assert MISSING in set(tab.loc[tab["margin"] == "region", "level"])


def test_asmd_equals_brute_force_against_targets_and_microdata():
    df = _frame()
    rng = np.random.default_rng(5)
    ref = _frame(2000, seed=3).assign(rw=rng.uniform(0.5, 2.0, 2000))
    w = rng.uniform(0.2, 4.0, len(df))
    got = asmd(df, w, ref, variables=["age", "region", "kids", "income"], reference_weight="rw")
    rw = ref["rw"].to_numpy()
    for v in ["age", "region"]:
        p, r = _brute_shares(df, [v], w), _brute_shares(ref, [v], rw)
        lv = r.index.union(p.index)
        pr, pw = r.reindex(lv, fill_value=0.0).to_numpy(), p.reindex(lv, fill_value=0.0).to_numpy()
        ok = (pr > 0) & (pr < 1)
        want = np.mean(np.abs(pw[ok] - pr[ok]) / np.sqrt(pr[ok] * (1 - pr[ok])))
        assert got[v] == pytest.approx(want, rel=1e-12)
    for v in ["kids", "income"]:  # numeric in the reference: standardized mean difference
        x, xr = df[v].to_numpy(), ref[v].to_numpy()
        ok, okr = np.isfinite(x), np.isfinite(xr)
        mu = np.average(xr[okr], weights=rw[okr])
        sd = np.sqrt(np.average((xr[okr] - mu) ** 2, weights=rw[okr]))
        want = abs(np.average(x[ok], weights=w[ok]) - mu) / sd
        assert got[v] == pytest.approx(want, rel=1e-12)


def test_calibration_cells_reused_give_the_same_table_as_new_cells():
    df = _frame()
    t = _targets(len(df))
    s = Sample(df, weight="w0").rake(t)
    # from the rake's own cells (reused) and from cells built anew on the same rows
    reused = margin_table(s, t)
    fresh = margin_table(Sample(df, weight="w0").with_weights(s.weight_array, s.history[0]
                                                             .__class__("by hand", {})), t)
    pd.testing.assert_frame_equal(reused, fresh,
                                  rtol=1e-12)


def test_diagnostics_after_trim_and_chains_show_the_last_targets():
    df = _frame()
    t = _targets(len(df))
    raked = Sample(df, weight="w0").rake(t)
    trimmed = raked.trim(upper_mult=1.5)
    d = trimmed.diagnostics()
    assert d.method == "trim"
    assert d.margins is not None and d.asmd is not None
    pd.testing.assert_frame_equal(d.margins, margin_table(trimmed, t))
    assert set(d.asmd.index) == {"age", "sex"}
    # trimming moves the margins off the targets: the table shows it
    assert d.margins["error"].abs().max() > 1e-6
    assert d.asmd.loc["age", "after"] > 0
    # a chain: poststratify on sex, then rake to both; the last targets are used
    ps = Targets.from_frame(pd.DataFrame({"variable": "sex", "level": ["F", "M"],
                                          "share": [0.5, 0.5]}), population=float(len(df)))
    chain = Sample(df).poststratify(ps).rake(t).trim(upper_mult=3)
    assert set(chain.diagnostics().margins["margin"]) == {"age", "sex"}
    js = summary(trimmed).to_dict()
    assert js["margins"] and js["asmd"]


def test_cli_weight_with_trim_writes_margins_and_asmd(tmp_path, capsys):
    import json

    from calib.cli.main import main

    df = _frame(800)
    src, tf = tmp_path / "in.parquet", tmp_path / "t.csv"
    df.to_parquet(src, index=False)
    _targets(len(df)).to_frame().to_csv(tf, index=False)
    js = tmp_path / "d.json"
    code = main(["weight", str(src), "--targets", str(tf), "--method", "rake", "--trim", "1.5",
                 "--out", str(tmp_path / "w.parquet"), "--diagnostics-json", str(js)])
    assert code == 0, capsys.readouterr()
    d = json.loads(js.read_text())["diagnostics"]
    assert d["method"] == "trim"
    assert {r["margin"] for r in d["margins"]} == {"age", "sex"}
    assert {r["variable"] for r in d["asmd"]} == {"age", "sex"}
    assert "margins (shares)" in capsys.readouterr().out


def test_weight_summary_from_cells_equals_the_rows():
    from calib.weighting.diagnostics import weight_summary

    df = _frame()
    t = _targets(len(df))
    # equal base weights: constant within cells (read from the cells); base weights: rows
    for s in (Sample(df).rake(t), Sample(df).rake(t).trim(upper_mult=1.5),
              Sample(df, weight="w0").rake(t)):
        d = s.diagnostics()
        rows = weight_summary(s.weight_array)
        assert list(d.weights.index) == list(rows.index)
        np.testing.assert_allclose(d.weights.to_numpy(), rows.to_numpy(), rtol=1e-12)
        assert d.n_eff == pytest.approx(rows["n_eff"], rel=1e-12)
