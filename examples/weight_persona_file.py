"""Read a persona file, recode it with the built-in codebook, rake to census targets.

Usage: python examples/weight_persona_file.py [OUTDIR]   (OUTDIR defaults to $CALIB_EXAMPLE_OUT
or a new temp dir; the weighted sample is saved there).

The fixture holds a few deliberately unmapped values: personas whose weighting variables did
not map to a harmonized level are dropped *and counted* before raking (never silently).
"""

from __future__ import annotations

import os
import sys
import tempfile
import tomllib
from pathlib import Path

import calib
from calib.core.errors import UnmappedLevelError
from calib.data.codebook import Codebook
from calib.data.datasets import census_targets
from calib.estimation.persist import save_sample

HERE = Path(__file__).resolve().parent
FIXTURE = HERE.parent / "tests" / "fixtures" / "tianyi_personas.jsonl"
# the AGE bands (ACS age10) do not nest in the CVAP decades, and education is only in the
# objective tables (13 of 27 personas); in this tiny fixture sex is confounded with race (no
# White or Other women, no Black or Hispanic men), so sex and race cannot both be raked: use race
VARIABLES = ["race4"]


def read(path: Path):
    """Read with the built-in codebook; unmapped values go to NA, listed by name."""
    try:
        return calib.read_personas(path, codebook="personas")
    except UnmappedLevelError as err:
        spec = tomllib.loads((Path(calib.__file__).parent / "data" / "codebooks" / "personas.toml")
                            .read_text(encoding="utf-8"))
        for rec in spec["recode"]:
            extra = err.unmapped.get(rec["target"], {})
            for value, n in extra.items():
                print(f"unmapped: {rec['target']} <- {value!r} ({n} rows) sent to missing")
                rec.setdefault("missing", []).append(value)
        return calib.read_personas(path, codebook=Codebook.from_dict(spec))



def main(out: Path) -> None:
    rows, report = read(FIXTURE)
    print(f"read {len(rows)} personas from {FIXTURE.name}")
    print(report)
    missing = rows[VARIABLES].isna().any(axis=1)
    for v in VARIABLES:
        n = int(rows[v].isna().sum())
        if n:
            print(f"dropping: {n} personas with no harmonized {v} (unmapped or missing value)")
    rows = rows[~missing]
    print(f"kept {len(rows)} personas; dropped {int(missing.sum())}")
    targets = census_targets(VARIABLES)
    sample = calib.Sample(rows).rake(targets)
    print(sample)
    print(sample.diagnostics(targets))
    path = save_sample(sample, out / "weighted_personas.parquet", overwrite=True)
    print(f"saved weighted sample to {path}")


if __name__ == "__main__":
    target = sys.argv[1] if len(sys.argv) > 1 else os.environ.get("CALIB_EXAMPLE_OUT")
    main(Path(target) if target else Path(tempfile.mkdtemp(prefix="calib-example-")))
