"""Raking side by side: calib, the bare numpy floor, balance, samplics, svy, weightipy, ipfn, R.

Every contender runs in its own subprocess (clean peak RSS: the child's own VmHWM): the
child builds the synthetic sample (:mod:`bench.synth`), converts it to what the method takes
(untimed), then times the weighting call alone, repeated while it is fast (min of up to 5),
and saves the weights. The parent then checks every contender's weights itself: the largest
relative margin error against the targets, and the largest relative difference from calib's
weights (calib rake for the raking solutions, calib calibrate logit for R's logit).

R survey runs through ``Rscript`` (:file:`bench/rsurvey_bench.R`): the time inside R around
``rake()`` / ``calibrate()`` only, and the total including reading and writing CSV.

Usage: ``python -m bench.bench_weighting --n 100000`` (prints a table), or see
:mod:`bench.run_all`.

Examples
--------
>>> rows = run_size(2_000, ["calib rake", "floor"], timeout=120)
>>> [r["name"] for r in rows], rows[1]["margin_error"] < 1e-9
(['calib rake', 'floor'], True)
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

from .contenders import CONTENDERS, LOGIT_BOUNDS, Unavailable
from .synth import VARIABLES, make_sample

ROOT = Path(__file__).resolve().parent.parent
SEED = 2024


def _hwm_mb() -> float | None:
    """This process's peak resident set (VmHWM), in MB; None where /proc is missing.

    Not ``ru_maxrss``: Linux carries the forking parent's peak across ``exec``, so a child's
    ``ru_maxrss`` is at least the parent's RSS at the fork.
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def _child(name: str, n: int, out: Path, max_reps: int, budget: float) -> None:
    """Child process: set up, time, save weights and a JSON record."""
    df, shares = make_sample(n, SEED)
    setup, run, _ = CONTENDERS[name]
    rec: dict = {"name": name, "n": n}
    try:
        state = setup(df, shares, float(n))
    except Unavailable as e:
        rec["skipped"] = str(e)
        (out / "record.json").write_text(json.dumps(rec))
        return
    del df
    rec["rss_setup_mb"] = _hwm_mb()
    times = []
    spent = 0.0
    (out / "started").write_text(str(time.time()))  # the parent's clock for a timeout
    while len(times) < max_reps and (not times or spent + times[-1] < budget):
        t0 = time.perf_counter()
        try:
            w = run(state)
        except Exception as e:  # a contender's own failure is a result: report it
            rec["error"] = f"{type(e).__name__}: {str(e)[:300]}"
            break
        times.append(time.perf_counter() - t0)
        spent += times[-1]
    rec["times"] = times
    rec["peak_rss_mb"] = _hwm_mb()
    rec["rss_source"] = "VmHWM"
    if times:
        np.save(out / "weights.npy", np.asarray(w, dtype=float))
    (out / "record.json").write_text(json.dumps(rec))


#: Threads every contender may use (BLAS, OpenMP, polars/rayon); set by :func:`run_size`.
THREADS = {"n": 1}
_THREAD_VARS = (
    "OPENBLAS_NUM_THREADS",
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "POLARS_MAX_THREADS",
    "RAYON_NUM_THREADS",
    "NUMBA_NUM_THREADS",
)


def _spawn(cmd: list[str], timeout: float) -> tuple[int, float, float, bool]:
    """Run ``cmd``; return (status, wall seconds, peak RSS MB of the child, timed out)."""
    env = dict(os.environ)
    env.update(dict.fromkeys(_THREAD_VARS, str(THREADS["n"])))
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env
    )
    killed = threading.Event()

    def _kill() -> None:
        killed.set()
        proc.kill()

    timer = threading.Timer(timeout, _kill)
    timer.start()
    try:
        _, status, usage = os.wait4(proc.pid, 0)
    finally:
        timer.cancel()
    proc.returncode = os.waitstatus_to_exitcode(status)
    err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
    proc.stderr and proc.stderr.close()
    if proc.returncode and not killed.is_set():
        sys.stderr.write(f"{' '.join(cmd[:4])}: exit {proc.returncode}\n{err[-2000:]}\n")
    return proc.returncode, time.perf_counter() - t0, usage.ru_maxrss / 1024, killed.is_set()


def _python_contender(name: str, n: int, tmp: Path, timeout: float) -> dict:
    out = tmp / name.replace(" ", "_")
    out.mkdir()
    cmd = [
        sys.executable,
        "-m",
        "bench.bench_weighting",
        "--child",
        name,
        "--n",
        str(n),
        "--out",
        str(out),
    ]
    code, wall, _rss, killed = _spawn(cmd, timeout)
    rec = {"name": name, "n": n, "wall_total": wall}
    if killed:
        started = out / "started"
        ran = time.time() - float(started.read_text()) if started.exists() else 0.0
        rec["error"] = f"killed at the {timeout:.0f} s timeout (setup included)"
        rec["timed_out"] = ran
        return rec
    path = out / "record.json"
    if not path.exists():
        rec["error"] = f"exited with status {code}"
        return rec
    rec.update(json.loads(path.read_text()))
    if rec.get("times"):
        rec["time"] = min(rec["times"])
        rec["weights"] = np.load(out / "weights.npy")
    return rec


def _r_contender(method: str, n: int, tmp: Path, timeout: float) -> dict:
    name = "R survey rake" if method == "rake" else "R survey calibrate logit"
    rec: dict = {"name": name, "n": n}
    if shutil.which("Rscript") is None:
        rec["skipped"] = "Rscript not found (make r-reference installs R survey)"
        return rec
    out = tmp / f"R_{method}"
    out.mkdir()
    df, shares = make_sample(n, SEED, categorical=False)
    df.to_csv(out / "data.csv", index=False)
    del df
    rows = [(v, lv, s * n) for v in VARIABLES for lv, s in shares[v].items()]
    with open(out / "targets.csv", "w") as fh:
        fh.write("variable,level,total\n")
        fh.writelines(f'{v},"{lv}",{t!r}\n' for v, lv, t in rows)
    cmd = [
        "Rscript",
        str(ROOT / "bench" / "rsurvey_bench.R"),
        str(out),
        method,
        str(LOGIT_BOUNDS[0]),
        str(LOGIT_BOUNDS[1]),
    ]
    code, wall, _rss, killed = _spawn(cmd, timeout)
    rec.update(wall_total=wall)
    if killed:
        rec["error"] = f"killed at the {timeout:.0f} s timeout (R start and CSV included)"
    elif code or not (out / "timing.csv").exists():
        rec["error"] = f"Rscript exited with status {code}"
    else:
        timing = np.loadtxt(out / "timing.csv", delimiter=",", skiprows=1)
        rec["time"] = float(timing[0])
        rec["peak_rss_mb"] = float(timing[2]) if timing.size > 2 and timing[2] > 0 else None
        rec["rss_source"] = "VmHWM"
        rec["weights"] = np.loadtxt(out / "weights.csv", delimiter=",", skiprows=1)
    return rec


@functools.lru_cache(maxsize=1)
def _codes_and_totals(n: int) -> tuple[list[np.ndarray], list[np.ndarray]]:
    df, shares = make_sample(n, SEED)
    codes = [np.asarray(df[v].array.codes) for v in VARIABLES]
    return codes, [np.asarray(list(shares[v].values())) * n for v in VARIABLES]


def margin_error(w: np.ndarray, n: int) -> float:
    """Largest relative margin error of weights ``w`` on the benchmark sample of ``n`` rows."""
    err = 0.0
    for c, t in zip(*_codes_and_totals(n), strict=True):
        got = np.bincount(c, weights=w, minlength=t.size)
        err = max(err, float(np.max(np.abs(got / t - 1))))
    return err


def run_size(
    n: int,
    names: list[str],
    *,
    timeout: float = 600.0,
    r_methods: tuple[str, ...] = (),
    threads: int = 1,
) -> list[dict]:
    """Run the named contenders (and R methods ``rake`` / ``logit``) at ``n`` rows.

    ``threads`` caps the threads of every contender (BLAS, OpenMP, polars/rayon): 1 by
    default, a single-core comparison that a shared machine does not distort (multi-threaded
    BLAS on a busy 2-core box made calib calibrate 4-10x slower).

    Returns one record per contender: ``time`` (s, min over repeats), ``peak_rss_mb``,
    ``margin_error``, ``agreement`` (max relative difference from calib's weights), ``ref``
    (which calib weights), ``skipped`` or ``error`` when it did not run.
    """
    THREADS["n"] = threads
    rows = []
    with tempfile.TemporaryDirectory(prefix="calib-bench-") as d:
        tmp = Path(d)
        for name in names:
            rows.append(_python_contender(name, n, tmp, timeout))
        for method in r_methods:
            rows.append(_r_contender(method, n, tmp, timeout))
    refs = {r["name"]: r.get("weights") for r in rows}
    for r in rows:
        w = r.pop("weights", None)
        if w is None:
            continue
        r["margin_error"] = margin_error(w, n)
        ref_name = "calib calibrate logit" if "logit" in r["name"] else "calib rake"
        ref = refs.get(ref_name)
        if ref is not None and r["name"] != ref_name and ref.shape == w.shape:
            r["ref"] = ref_name
            r["agreement"] = float(np.max(np.abs(w / ref - 1)))
    return rows


def format_table(rows: list[dict], *, base: str = "calib rake") -> str:
    """A markdown table of ``run_size`` records with ratios to ``base`` (and to the floor)."""
    times = {r["name"]: r.get("time") for r in rows}
    t_base = times.get(base)
    t_logit = times.get("calib calibrate logit")
    head = (
        "| method | n | time (s) | × calib | peak RSS (MB) | above setup (MB) | "
        "max rel. margin error | max rel. diff. from calib | note |"
    )
    lines = [head, "|" + "---|" * 9]
    for r in rows:
        note = r.get("skipped") or r.get("error") or ""
        if "time" not in r:
            tmin = r.get("timed_out")
            t_txt = f"> {tmin:.0f}" if tmin else "–"
            ratio = f"> {tmin / t_base:.0f}" if tmin and t_base else "–"
            lines.append(
                f"| {r['name']} | {r['n']:,} | {t_txt} | {ratio} | – | – | – | – | {note} |"
            )
            continue
        ref_t = t_logit if "logit" in r["name"] and not r["name"].startswith("calib ") else t_base
        ratio = f"{r['time'] / ref_t:.1f}" if ref_t else "–"
        if r["name"].startswith("R survey"):
            note = (note + f" total incl. R start and CSV I/O {r['wall_total']:.1f} s").strip()
        agree = f"{r['agreement']:.1e}" if "agreement" in r else "–"
        peak, setup = r.get("peak_rss_mb"), r.get("rss_setup_mb")
        if r.get("rss_source") != "VmHWM":  # an older run's ru_maxrss: not the child's own
            peak = setup = None
        peak_txt = f"{peak:.0f}" if peak else "–"
        above = f"{max(peak - setup, 0):.0f}" if peak and setup else "–"
        lines.append(
            f"| {r['name']} | {r['n']:,} | {r['time']:.3g} | {ratio} | {peak_txt} "
            f"| {above} "
            f"| {r['margin_error']:.1e} | {agree} | {note} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--n", type=int, default=100_000)
    p.add_argument("--only", nargs="*", default=None, help="contender names")
    p.add_argument("--r", nargs="*", default=["rake", "logit"], help="R methods: rake logit")
    p.add_argument("--timeout", type=float, default=600.0)
    p.add_argument("--child", default=None, help=argparse.SUPPRESS)
    p.add_argument("--out", default=None, help=argparse.SUPPRESS)
    p.add_argument("--reps", type=int, default=5)
    p.add_argument("--threads", type=int, default=1, help="threads per contender")
    a = p.parse_args(argv)
    if a.child:
        _child(a.child, a.n, Path(a.out), a.reps, budget=3.0)
        return
    rows = run_size(
        a.n, a.only or list(CONTENDERS), timeout=a.timeout, r_methods=tuple(a.r), threads=a.threads
    )
    print(format_table(rows))


if __name__ == "__main__":
    main()
