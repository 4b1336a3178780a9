"""Timing of the small-area hybrid estimator against today's per-state PPI (issue 15).

Data: 200,000 personas over 50 states (sizes in proportion to the CVAP frame's states, 4
regions), weights uniform in [0.5, 2], a 0/1 LLM answer; 1,500 humans drawn in proportion to
the states (at least 2 per state, so that per-state PPI can run), design weights uniform in
[0.5, 2], their real answer and the LLM's answer for them. Timed, min over repeats:

* ``ppi``: :func:`calib.hybrid.ppi_mean` with ``by="state"`` (per-state PPI++, what
  ``calib hybrid --by state --method ppi`` runs) - 50 domain fits plus the total;
* ``small-area``: :func:`calib.hybrid.small_area` with ``groups=("region",)``.

Goal (issue 15): small-area under 2x ppi. Run: ``python -m bench.bench_small_area``
(not part of ``make bench``).

Examples
--------
>>> r = run(20_000, 300, reps=1)
>>> sorted(r)
['n_human', 'n_persona', 'ppi', 'ratio', 'small-area']
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import numpy as np
import pandas as pd
from scipy.special import expit

from calib.data.datasets import poststrat_frame
from calib.hybrid import ppi_mean, small_area


def _best(fn: Callable[[], object], reps: int) -> float:
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def make_data(n_persona: int, n_human: int, seed: int = 1) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Personas and humans over the frame's 50 states (see the module docstring)."""
    rng = np.random.default_rng(seed)
    fr = poststrat_frame()
    pop = fr.groupby("state", observed=True)["n"].sum()
    region = fr.groupby("state", observed=True)["region"].first().astype(str)
    states = pop.index.astype(str).to_numpy()
    share = (pop / pop.sum()).to_numpy()
    base = rng.normal(0, 0.5, states.size)  # the humans' logit rate by state
    ps = rng.choice(states.size, n_persona, p=share)
    personas = pd.DataFrame({
        "state": states[ps], "region": region.to_numpy()[ps],
        "llm": (rng.random(n_persona) < expit(base[ps] + 2.0)).astype(int),
        "w": rng.uniform(0.5, 2.0, n_persona),
    })  # fmt: skip
    extra = n_human - 2 * states.size
    hs = np.concatenate([np.repeat(np.arange(states.size), 2),
                         rng.choice(states.size, extra, p=share)])
    y = (rng.random(n_human) < expit(base[hs])).astype(int)
    human = pd.DataFrame({
        "state": states[hs], "region": region.to_numpy()[hs], "y": y,
        "llm": (rng.random(n_human) < expit(base[hs] + 2.0)).astype(int),
        "w": rng.uniform(0.5, 2.0, n_human),
    })  # fmt: skip
    return personas, human


def run(n_persona: int = 200_000, n_human: int = 1_500, reps: int = 5) -> dict:
    """Best-of-``reps`` seconds of per-state ppi and of small-area, and their ratio."""
    p, h = make_data(n_persona, n_human)
    kw = {"persona_weight": "w", "human_weight": "w"}
    t_ppi = _best(lambda: ppi_mean(p, h, "llm", "y", by="state", **kw), reps)
    t_sa = _best(lambda: small_area(p, h, "llm", "y", "state", groups=("region",), **kw), reps)
    return {"n_persona": n_persona, "n_human": n_human, "ppi": t_ppi, "small-area": t_sa,
            "ratio": t_sa / t_ppi}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--personas", type=int, default=200_000)
    ap.add_argument("--humans", type=int, default=1_500)
    ap.add_argument("--reps", type=int, default=5)
    a = ap.parse_args()
    r = run(a.personas, a.humans, a.reps)
    print(f"{r['n_persona']:,} personas, {r['n_human']:,} humans, 50 states: per-state ppi "
          f"{r['ppi']:.3f} s, small-area {r['small-area']:.3f} s, ratio {r['ratio']:.2f}")


if __name__ == "__main__":
    main()
