"""Benchmark raking out of core: memory vs DuckDB vs Dask, 1M -> 10M -> 100M rows on disk.

Generates Parquet files (6 categorical variables, a base weight and a 0/1 outcome) in chunks
of 1M rows with pyarrow (never holding all rows), then runs each case in a fresh subprocess:
rake to 6 one-way margins and write the weights back to Parquet. Each row records wall time,
the peak RSS of the process (``VmHWM``; for Dask also the workers' ``ru_maxrss`` via
``RUSAGE_CHILDREN``) and the 1-minute load average (other jobs share the machine).

Run: ``nice .venv/bin/python bench/bench_outofcore.py`` (writes ``bench/out/outofcore.md``;
rows accumulate in ``bench/out/outofcore.jsonl`` so sizes can be run separately).
``BENCH_SIZES=1000000,10000000`` picks the sizes (default 1M, 10M, 100M: memory and Dask run
up to 10M, DuckDB at every size); ``BENCH_DIR`` the data folder (default a temp folder,
deleted afterwards); ``BENCH_ENGINES=duckdb,dask`` a subset of engines; ``BENCH_MEMORY_LIMIT`` DuckDB's memory limit (default ``1GB``).
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

CHUNK = 1_000_000
ROWS_PER_FILE = 10_000_000
VARIABLES = {
    "sex": (["Female", "Male"], [0.45, 0.55]),
    "age6": (["18-29", "30-39", "40-49", "50-59", "60-69", "70+"],
             [0.25, 0.22, 0.17, 0.15, 0.12, 0.09]),
    "race4": (["Black", "Hispanic", "Other", "White"], [0.10, 0.12, 0.08, 0.70]),
    "educ5": (["4-Year College", "HS", "No HS", "Post-grad", "Some college"],
              [0.30, 0.20, 0.05, 0.20, 0.25]),
    "region": (["Midwest", "Northeast", "South", "West"], [0.2, 0.2, 0.35, 0.25]),
    "pid3": (["Democrat", "Independent", "Republican"], [0.4, 0.3, 0.3]),
}
POP_SHARES = {
    "sex": [0.51, 0.49],
    "age6": [0.21, 0.17, 0.16, 0.17, 0.15, 0.14],
    "race4": [0.12, 0.13, 0.08, 0.67],
    "educ5": [0.22, 0.28, 0.10, 0.13, 0.27],
    "region": [0.21, 0.17, 0.38, 0.24],
    "pid3": [0.33, 0.38, 0.29],
}


def generate(folder: Path, n: int, seed: int = 1) -> list[str]:
    """Write ``n`` rows in files of at most 10M rows, 1M-row chunks; returns the paths."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    paths, done, k = [], 0, 0
    while done < n:
        path = folder / f"part{k:03d}.parquet"
        rows_here = min(ROWS_PER_FILE, n - done)
        writer = None
        written = 0
        while written < rows_here:
            m = min(CHUNK, rows_here - written)
            cols = {}
            for v, (levels, p) in VARIABLES.items():
                idx = pa.array(rng.choice(len(levels), m, p=p).astype(np.int32))
                cols[v] = pa.DictionaryArray.from_arrays(idx, pa.array(levels)).cast(pa.string())
            cols["w"] = pa.array(rng.uniform(0.5, 2.0, m))
            cols["y"] = pa.array((rng.random(m) < 0.45).astype(np.float64))
            table = pa.table(cols)
            if writer is None:
                writer = pq.ParquetWriter(path, table.schema)
            writer.write_table(table, row_group_size=CHUNK)
            written += m
        writer.close()
        paths.append(str(path))
        done += rows_here
        k += 1
    return paths


def targets_frame():
    import pandas as pd

    rows = [(v, lv, s) for v, (levels, _) in VARIABLES.items()
            for lv, s in zip(levels, POP_SHARES[v], strict=True)]
    return pd.DataFrame(rows, columns=["variable", "level", "share"])


CHILD = r"""
import json, os, resource, sys, time
import pandas as pd
from calib import Targets
from calib.outofcore import weight_files
args = json.loads(sys.argv[1])
t = Targets.from_frame(pd.read_json(args["targets"]), population=2.5e8)
client = cluster = None
t0 = time.perf_counter()
if args["engine"] == "dask":
    from distributed import Client, LocalCluster
    cluster = LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=None,
                           memory_limit="1GB")
    client = Client(cluster)
t1 = time.perf_counter()
r = weight_files(args["paths"], t, "rake", out=args["out"], engine=args["engine"],
                 base_weight="w", scheduler=client, memory_limit=args["memory_limit"])
t2 = time.perf_counter()
if client is not None:
    client.close(); cluster.close()
try:  # VmHWM: this process's own peak (ru_maxrss keeps the parent's peak across exec)
    self_kb = [int(x.split()[1]) for x in open("/proc/self/status") if x.startswith("VmHWM")][0]
except (OSError, IndexError):
    self_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
kids_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
print(json.dumps({"rows": r.rows, "seconds": t2 - t1, "startup_s": t1 - t0,
                  "rss_mb": self_kb / 1024, "children_rss_mb": kids_kb / 1024,
                  "choice": str(r.choice)}))
"""


def run_case(paths: list[str], engine: str, out: str, targets_json: str, mem_limit: str) -> dict:
    args = {"paths": paths, "engine": engine, "out": out, "targets": targets_json,
            "memory_limit": mem_limit}
    root = Path(__file__).resolve().parents[1]
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", CHILD, json.dumps(args)], capture_output=True,
                          text=True, cwd=root, timeout=1800)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        return {"error": proc.stderr.strip().splitlines()[-1][:200], "wall_s": wall}
    res = json.loads(proc.stdout.strip().splitlines()[-1])
    res["wall_s"] = wall
    return res


def main() -> None:
    sizes = [int(float(s)) for s in
             os.environ.get("BENCH_SIZES", "1000000,10000000,100000000").split(",")]
    mem_limit = os.environ.get("BENCH_MEMORY_LIMIT", "1GB")
    base = Path(os.environ.get("BENCH_DIR") or tempfile.mkdtemp(prefix="calib_ooc_"))
    outdir = Path(__file__).resolve().parent / "out"
    outdir.mkdir(exist_ok=True)
    tjson = str(base / "targets.json")
    base.mkdir(parents=True, exist_ok=True)
    targets_frame().to_json(tjson)
    rows = []
    try:
        for n in sizes:
            folder = base / f"n{n}"
            t0 = time.perf_counter()
            paths = generate(folder, n)
            gen_s = time.perf_counter() - t0
            disk = sum(os.path.getsize(p) for p in paths) / 2**20
            engines = ["memory", "duckdb", "dask"] if n <= 10_000_000 else ["duckdb"]
            if os.environ.get("BENCH_ENGINES"):
                engines = [e for e in engines if e in os.environ["BENCH_ENGINES"].split(",")]
            for eng in engines:
                out = str(base / f"out_{eng}_{n}") + (".parquet" if eng != "dask" else "")
                res = run_case(paths, eng, out, tjson, mem_limit)
                load = os.getloadavg()[0]
                row = {"rows": n, "engine": eng, "input_mib": round(disk, 1),
                       "generate_s": round(gen_s, 1), "load1": round(load, 1), **res}
                rows.append(row)
                print(json.dumps(row), flush=True)
                p = Path(out)
                if p.is_dir():
                    shutil.rmtree(p)
                elif p.exists():
                    p.unlink()
            shutil.rmtree(folder)
    finally:
        if not os.environ.get("BENCH_DIR"):
            shutil.rmtree(base, ignore_errors=True)
    # results accumulate over runs (a later run of the same rows x engine replaces it)
    store = outdir / "outofcore.jsonl"
    old = [json.loads(x) for x in store.read_text().splitlines()] if store.exists() else []
    done = {(r["rows"], r["engine"]) for r in rows}
    rows = sorted([r for r in old if (r["rows"], r["engine"]) not in done] + rows,
                  key=lambda r: (r["rows"], ["memory", "duckdb", "dask"].index(r["engine"])))
    store.write_text("".join(json.dumps(r) + "\n" for r in rows))
    lines = [
        "| rows | engine | input (MiB) | rake + write-back (s) | peak RSS (MiB) | "
        "worker peak RSS (MiB) | load (1 min) |",
        "|---:|---|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        if "error" in r:
            lines.append(f"| {r['rows']:,} | {r['engine']} | {r['input_mib']} | failed: "
                         f"{r['error']} | | | {r['load1']} |")
            continue
        kids = f"{r['children_rss_mb']:.0f}" if r["engine"] == "dask" else ""
        lines.append(f"| {r['rows']:,} | {r['engine']} | {r['input_mib']} | {r['seconds']:.1f} "
                     f"| {r['rss_mb']:.0f} | {kids} | {r['load1']} |")
    head = (f"Machine: {platform.machine()}, {os.cpu_count()} cores "
            f"(shared with other jobs; see the load column); DuckDB memory_limit={mem_limit}; "
            "Dask: LocalCluster of 2 workers x 1 thread, 1 GB each.\n\n")
    text = head + "\n".join(lines) + "\n"
    (outdir / "outofcore.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
