"""poststratify() against R survey postStratify() on R's api data, and its error paths."""

import numpy as np
import pandas as pd
import pytest
from rsurvey import run_r

from calib import Sample, Targets
from calib.core.errors import DataError, TargetError

R_SCRIPT = r"""
data(api)
dstrat <- svydesign(id=~1, strata=~stype, weights=~pw, data=apistrat, fpc=~fpc)
dclus1 <- svydesign(id=~dnum, weights=~pw, data=apiclus1, fpc=~fpc)
pop1 <- data.frame(stype=c("E", "H", "M"), Freq=c(4421, 755, 1018))
pop2 <- as.data.frame(xtabs(~stype+sch.wide, apipop))
write.csv(data.frame(snum=apistrat$snum, stype=apistrat$stype, sch.wide=apistrat$sch.wide,
  pw=apistrat$pw, one=weights(postStratify(dstrat, ~stype, pop1)),
  two=weights(postStratify(dstrat, ~stype+sch.wide, pop2))), "out_strat.csv", row.names=FALSE)
write.csv(data.frame(snum=apiclus1$snum, stype=apiclus1$stype, sch.wide=apiclus1$sch.wide,
  pw=apiclus1$pw, two=weights(postStratify(dclus1, ~stype+sch.wide, pop2))),
  "out_clus1.csv", row.names=FALSE)
write.csv(pop2, "out_pop2.csv", row.names=FALSE)
"""


@pytest.fixture(scope="module")
def r():
    return run_r(R_SCRIPT)


def _joint(pop2: pd.DataFrame) -> Targets:
    return Targets.from_frame(
        pd.DataFrame(
            {
                "variable": "stype:sch.wide",
                "level": pop2["stype"] + ":" + pop2["sch.wide"],
                "total": pop2["Freq"].astype(float),
            }
        )
    )


def _check(ours: Sample, ref: pd.DataFrame, col: str) -> None:
    got = pd.Series(ours.weight_array, index=ours.frame["snum"].to_numpy())
    want = ref.set_index("snum")[col]
    np.testing.assert_allclose(got.loc[want.index].to_numpy(), want.to_numpy(), rtol=1e-6)


def test_one_variable_matches_r(r):
    ref = r["strat"]
    t = Targets.from_frame(
        pd.DataFrame({"variable": "stype", "level": ["E", "H", "M"], "total": [4421, 755, 1018]})
    )
    s = Sample(ref, weight="pw").poststratify(t)
    _check(s, ref, "one")
    assert s.history[-1].method == "poststratify" and s.history[-1].max_error < 1e-12


@pytest.mark.parametrize("design", ["strat", "clus1"])
def test_two_variable_joint_matches_r(r, design):
    ref = r[design]
    s = Sample(ref, weight="pw").poststratify(_joint(r["pop2"]))
    _check(s, ref, "two")
    cal = s.calibrations[-1]
    assert cal.X.shape == (6, 6) and cal.distance == "linear"


def test_empty_cell_is_named_and_collapse_fixes_it():
    df = pd.DataFrame(
        {"age6": ["30-39", "30-39", "40-49", "50-59"], "sex": ["Female", "Male", "Male", "Male"]}
    )
    t = Targets.from_frame(
        pd.DataFrame(
            {
                "variable": "age6",
                "level": ["18-29", "30-39", "40-49", "50-59"],
                "total": [10.0, 20.0, 30.0, 40.0],
            }
        )
    )
    with pytest.raises(TargetError, match=r"no sample \(empty cells\): \['18-29'\].*collapse"):
        Sample(df).poststratify(t)
    s = Sample(df).poststratify(t, collapse={"age6": {"18-29": "30-39"}})
    # the merged poststratum 30-39 holds 10 + 20 = 30 over 2 rows
    assert s.weight_array.tolist() == [15.0, 15.0, 30.0, 40.0]
    assert s.history[-1].notes == ("age6: level '18-29' merged into '30-39'",)
    assert s.frame["age6"].tolist() == df["age6"].tolist()  # the rows keep their own levels
    with pytest.raises(DataError, match="adjacent"):
        Sample(df).poststratify(t, collapse={"age6": {"18-29": "50-59"}})
    with pytest.raises(DataError, match="not a target level"):
        Sample(df).poststratify(t, collapse={"age6": {"18-29": "90+"}})


def test_joint_collapse_and_chain():
    df = pd.DataFrame({"a": ["x", "y", "y", "z", "z"], "b": ["u", "u", "v", "v", "u"]})
    lv = [f"{a}:{b}" for a in "wxyz" for b in "uv"]
    t = Targets.from_frame(
        pd.DataFrame({"variable": "a:b", "level": lv, "total": np.arange(1.0, 9.0)})
    )
    s = Sample(df).poststratify(t, collapse={"a": {"w": "x", "x": "y"}})
    # w, x, y merge: u cell total 1+3+5 = 9 over rows 0, 1; v cell 2+4+6 = 12 over row 2
    assert s.weight_array.tolist() == [4.5, 4.5, 12.0, 8.0, 7.0]


def test_several_margins_and_numeric_refused():
    df = pd.DataFrame({"a": ["x", "y"], "b": ["u", "v"], "n": [1.0, 2.0]})
    t = Targets.from_frame(
        pd.DataFrame(
            {"variable": ["a", "a", "b", "b"], "level": ["x", "y", "u", "v"], "total": [1.0] * 4}
        )
    )
    with pytest.raises(TargetError, match="one margin"):
        Sample(df).poststratify(t)
    tn = Targets.from_frame(pd.DataFrame({"variable": ["n"], "level": [""], "total": [3.0]}))
    with pytest.raises(TargetError, match="numeric"):
        Sample(df).poststratify(tn)


def test_sample_cell_without_target():
    df = pd.DataFrame({"a": ["x", "y", "q"]})
    t = Targets.from_frame(
        pd.DataFrame({"variable": "a", "level": ["x", "y"], "total": [1.0, 1.0]})
    )
    with pytest.raises(DataError, match="'q'"):
        Sample(df).poststratify(t)
