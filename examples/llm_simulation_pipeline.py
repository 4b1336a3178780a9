"""The seed pipeline's own files, end to end: raw personas + long answers -> weighted state
estimates with SEs -> an electoral-college forecast.

Usage: python examples/llm_simulation_pipeline.py [OUTDIR]   (OUTDIR defaults to
$CALIB_EXAMPLE_OUT or a new temp dir). Input: the hand-made files of
tests/fixtures/llm_simulation (the seed pipeline's formats, docs/personas.md): meta personas
with ACS attributes for CA, TX and VT, the long answer file (letters, INVALID/ABSTAIN, two
persona sources) and the question files. The same steps from the command line::

    calib recode meta_personas.csv --codebook llm-simulation --out personas.parquet
    calib targets export acs2023-state --variables age_acs,sex,race7,educ7 --states CA,TX,VT \\
        --out acs.csv
    calib weight personas.parquet --targets acs.csv --method rake --out weighted.parquet
    calib answers answers.csv --personas weighted.parquet --source Persona_Meta \\
        --question Election/3 --questions questions_election.json --out joined.csv
    calib estimate joined.csv --outcome answer --by state --weight weight --missing drop \\
        --out est.csv
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import pandas as pd

from calib import Sample
from calib.data.answers import join_seed_answers, read_questions, read_seed_answers
from calib.data.datasets import acs2023_targets
from calib.data.readers import read_personas
from calib.election import forecast
from calib.estimation import estimate

FIX = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "llm_simulation"
STATES = ["CA", "TX", "VT"]
VARIABLES = ["age_acs", "sex", "race7", "educ7"]


def main(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    # 1. raw personas -> harmonized levels (0 unmapped values, or an error listing them)
    personas, report = read_personas(FIX / "meta_personas.csv", codebook="llm-simulation")
    print(f"recoded {report.n_rows} personas; missing after recoding: "
          f"{sum(report.missing.values())}")
    # 2. weight every persona (adults 18+) to its state's ACS 2023 margins
    targets = acs2023_targets(VARIABLES, states=STATES)
    weighted = Sample(personas).rake(targets)
    personas = personas.assign(weight=weighted.weights.to_numpy())
    print(f"raked to {len(targets.names)} margins x {len(STATES)} states; Kish ESS "
          f"{personas['weight'].sum() ** 2 / (personas['weight'] ** 2).sum():.1f}")
    # 3. the 2024 question of the Persona_Meta run, letters -> stances; non-response counted
    joined, counts = join_seed_answers(
        personas, read_seed_answers(FIX / "answers.csv"),
        questions=read_questions([FIX / "questions_election.json"]),
        sources=["Persona_Meta"], question_ids=["Election/3"], attributes=VARIABLES,
    )
    print(counts)
    # 4. citizens (the voters) with a valid answer: Harris's two-party share by state
    voters = joined[(joined["citizen"] == "Citizen") & (joined["status"] == "valid")].copy()
    voters["harris"] = (voters["answer"] == "Kamala Harris").astype(float)
    est = estimate(Sample(voters, weight="weight"), "harris", by="state", level=0.95)
    states = est[est["by"] == "state"][["domain", "estimate", "se", "n"]]
    print("weighted Harris two-party share by state (citizens, valid answers):")
    print(states.to_string(index=False, float_format=lambda x: f"{x:.3f}"))
    states.to_csv(out / "state_estimates.csv", index=False)
    # 5. electoral college: the other states from the previous election
    fc = forecast(states.rename(columns={"domain": "state"})[["state", "estimate", "se"]],
                  2024, fill_missing="previous", draws=2000, seed=1)
    path = fc.write(out / "forecast.json", overwrite=True)
    p = fc.states.set_index("state").loc[STATES, "p_dem"]
    print("P(Harris wins) " + ", ".join(f"{s} {v:.2f}" for s, v in p.items())
          + f"; P(Harris wins the college) {fc.p_dem_win:.2f}")
    print(f"wrote {path.name}")


if __name__ == "__main__":
    target = sys.argv[1] if len(sys.argv) > 1 else os.environ.get("CALIB_EXAMPLE_OUT")
    pd.set_option("display.width", 120)
    main(Path(target) if target else Path(tempfile.mkdtemp(prefix="calib-example-")))
