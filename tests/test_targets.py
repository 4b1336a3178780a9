import numpy as np
import pandas as pd
import pytest

from calib import Targets
from calib.core.errors import TargetError


def _long(rows, col="total"):
    return pd.DataFrame(rows, columns=["variable", "level", col])


def test_roundtrip_csv_and_parquet(tmp_path):
    df = _long(
        [
            ("sex", "F", 52.0),
            ("sex", "M", 48.0),
            ("age:state", "18-29:TX", 30.0),
            ("age:state", "30+:TX", 70.0),
            ("income", "", 5e6),
        ]
    )
    t = Targets.from_frame(df)
    assert t["age:state"].levels == (("18-29", "TX"), ("30+", "TX"))
    assert t["income"].numeric and t.numeric_variables == ("income",)
    for ext in ("csv", "parquet"):
        p = t.write(tmp_path / f"t.{ext}")
        back = Targets.read(p)
        assert back.names == t.names
        np.testing.assert_allclose(back["sex"].values, [52, 48])
        with pytest.raises(TargetError, match="exists"):
            t.write(p)


def test_shares_must_sum_to_one_and_say_by_how_much():
    with pytest.raises(TargetError, match=r"missing 1 by \+0.05"):
        Targets.from_frame(_long([("sex", "F", 0.55), ("sex", "M", 0.5)], "share"))
    t = Targets.from_frame(_long([("sex", "F", 0.55), ("sex", "M", 0.5)], "share"), share_tol=0.1)
    assert np.isclose(t.normalized()["sex"].total, 1.0)


def test_totals_disagree_names_both_margins():
    with pytest.raises(TargetError, match=r"'sex' and 'age' disagree"):
        Targets.from_frame(
            _long([("sex", "F", 50), ("sex", "M", 50), ("age", "y", 40), ("age", "o", 70)])
        )


def test_nested_joint_margin_must_agree():
    rows = [
        ("state", "TX", 100),
        ("state", "CA", 200),
        ("age:state", "y:TX", 40),
        ("age:state", "o:TX", 60),
        ("age:state", "y:CA", 90),
        ("age:state", "o:CA", 100),  # CA sums to 190, not 200; totals 290 vs 300 too
    ]
    with pytest.raises(TargetError):
        Targets.from_frame(_long(rows))


def test_duplicate_levels_and_bad_parts():
    with pytest.raises(TargetError, match="duplicate levels"):
        Targets.from_frame(_long([("sex", "F", 1), ("sex", "F", 2)]))
    with pytest.raises(TargetError, match="2 parts"):
        Targets.from_frame(_long([("age", "a:b", 1)]))


def test_shares_need_population():
    t = Targets.from_frame(_long([("sex", "F", 0.5), ("sex", "M", 0.5)], "share"))
    with pytest.raises(TargetError, match="population"):
        t.resolve()
    assert t.resolve(200)["sex"].values.tolist() == [100.0, 100.0]
