"""Write tests/fixtures/cces_mrp: the CCES 2018 sample's recalled 2016 vote for ``calib mrp``.

From ``data/surveys/cces2018_sample1000.csv`` (codebook
``data/surveys/cces2018_sample1000_codebook.json``: ``CC18_317`` 1 = Donald Trump,
2 = Hillary Clinton): the rows with ``CC18_317`` in {1, 2} and a state other than DC (DC has
no cell in the CVAP frame), ``trump = 1`` when ``CC18_317 == 1``, and the columns renamed to
those of the CVAP frame ``data/census/mrpcasestudy_poststrat_df.parquet``
(``state, eth, male, age, educ, n``): ``eth``, ``male`` (+0.5 / -0.5), ``age`` (from
``age_group``) and ``educ`` (from ``educ_mrp``). Also writes ``state_region.csv`` (state,
region from ``data/census/mrpcasestudy_statelevel_predictors.csv``), the domain predictor.

Run from the repository root: ``python tools/make_cces_mrp_fixture.py``.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "tests" / "fixtures" / "cces_mrp"


def main() -> None:
    raw = pd.read_csv(ROOT / "data" / "surveys" / "cces2018_sample1000.csv",
                      dtype={"state": str, "male": str})
    keep = raw["CC18_317"].isin([1, 2]) & raw["state"].notna() & (raw["state"] != "DC")
    c = raw[keep]
    out = pd.DataFrame({
        "state": c["state"], "eth": c["eth"], "male": c["male"], "age": c["age_group"],
        "educ": c["educ_mrp"], "trump": (c["CC18_317"] == 1).astype(int),
    })
    OUT.mkdir(parents=True, exist_ok=True)
    out.to_csv(OUT / "cces2018_trump2016.csv", index=False)
    pred = pd.read_csv(ROOT / "data" / "census" / "mrpcasestudy_statelevel_predictors.csv")
    pred[["state", "region"]].to_csv(OUT / "state_region.csv", index=False)
    print(f"wrote {len(out)} respondents to {OUT / 'cces2018_trump2016.csv'}")


if __name__ == "__main__":
    main()
