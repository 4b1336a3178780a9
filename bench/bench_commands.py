"""Whole commands against the I/O floor (issue 19): ``calib weight`` end to end vs pyarrow.

``calib weight IN.parquet --targets T.csv --method rake --out W.parquet`` (read, rake,
diagnostics, write) against the floor: pyarrow reads the same Parquet file, appends a weight
column and writes it (``bench/bench_commands.py --floor``). Both run as subprocesses side by
side in one run, alternating, under ``/usr/bin/time`` (wall time and the child's own peak RSS:
``time`` is the parent, so no parent peak is carried across exec). Best of ``--repeat`` runs
each; the RSS is that of the fastest run.

The data are :func:`bench.synth.make_sample` (six categorical columns: state, age6, sex, educ5,
race4, pid3; written by pandas as Parquet dictionary columns) plus a 0/1 outcome; the targets
are its six one-way margins with population n.

Usage: ``python -m bench.bench_commands --n 1000000 10000000`` writes ``bench/out/commands.md``
and its section in docs/performance.md (after the KEEP marker; the rest of the page is kept).

Examples
--------
>>> ratio(2.0, 1.0)
'2.00'
"""

from __future__ import annotations

import argparse
import datetime as _dt
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "performance.md"
OUT = ROOT / "bench" / "out" / "commands.md"
TITLE = "## Whole commands against the I/O floor (`bench/bench_commands.py`, issue 19)"
KEEP = "<!-- sections below are written by bench_mrp.py, bench_outofcore.py and by hand; make bench keeps them -->"


def make_files(n: int, folder: Path) -> tuple[Path, Path]:
    """Write the n-row sample as Parquet and its targets as CSV; return both paths."""
    import numpy as np

    from bench.synth import make_sample, targets_frame

    df, shares = make_sample(n, seed=19)
    df["y"] = (np.random.default_rng(19).random(n) < 0.4).astype(np.int8)
    src = folder / f"sample_{n}.parquet"
    df.to_parquet(src, index=False)
    t = targets_frame(shares)
    tf = folder / "targets.csv"
    t.to_csv(tf, index=False)
    return src, tf


def floor(src: str, out: str) -> None:
    """The floor: read the Parquet file, append a weight column, write Parquet (pyarrow)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pq.read_table(src)
    w = np.full(table.num_rows, 1.0)
    pq.write_table(table.append_column("weight", pa.array(w)), out)


def timed(cmd: list[str]) -> tuple[float, float]:
    """Wall seconds and peak RSS (MB) of a subprocess, by ``/usr/bin/time``."""
    with tempfile.NamedTemporaryFile("r", suffix=".time") as fh:
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        r = subprocess.run(["/usr/bin/time", "-f", "%e %M", "-o", fh.name, *cmd], env=env,
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        if r.returncode != 0:
            raise RuntimeError(f"{cmd} failed: {r.stderr[-2000:]}")
        wall, kb = fh.read().split()[-2:]
    return float(wall), float(kb) / 1024


def ratio(a: float, b: float) -> str:
    """``a / b`` with two decimals."""
    return f"{a / b:.2f}"


def run(n: int, repeat: int, folder: Path) -> dict:
    """Time the floor and ``calib weight`` at n rows, alternating; best of ``repeat``."""
    src, tf = make_files(n, folder)
    py = sys.executable
    cmds = {
        "floor": [py, "-m", "bench.bench_commands", "--floor", str(src),
                  str(folder / "floor.parquet")],
        "calib weight": [py, "-c", "from calib.cli.main import main; main()", "weight",
                         str(src), "--targets", str(tf), "--population", str(n),
                         "--method", "rake", "--out", str(folder / "w.parquet"),
                         "--diagnostics-json", str(folder / "d.json"), "--overwrite"],
    }
    best: dict[str, tuple[float, float]] = {}
    for _ in range(repeat):
        for name, cmd in cmds.items():
            t, mb = timed(cmd)
            if name not in best or t < best[name][0]:
                best[name] = (t, mb)
    return {"n": n, "size_mb": src.stat().st_size / 2**20, "load": os.getloadavg(), **{
        name: {"seconds": t, "peak_mb": mb} for name, (t, mb) in best.items()}}


def render(results: list[dict], repeat: int) -> str:
    """The markdown section."""
    when = _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        TITLE,
        "",
        f"`python -m bench.bench_commands --n {' '.join(str(r['n']) for r in results)}` "
        f"({when}; best of {repeat}, alternating, each a fresh subprocess under `/usr/bin/time`). "
        "`calib weight IN.parquet --targets T.csv --method rake --out W.parquet "
        "--diagnostics-json D.json` (read, rake to the six one-way margins of "
        "`bench.synth.make_sample`, diagnostics, write) against the floor: pyarrow reads the "
        "same file, appends a weight column and writes Parquet. Peak RSS is the child's own "
        "high-water mark. **The machine is shared and was loaded (load average in the table): "
        "the figures are indicative.**",
        "",
        "| rows | Parquet (MiB) | floor (s) | floor peak (MB) | calib weight (s) | "
        "calib peak (MB) | time / floor | memory / floor | load (1/5/15 min) |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in results:
        f, c = r["floor"], r["calib weight"]
        load = " / ".join(f"{x:.1f}" for x in r["load"])
        lines.append(
            f"| {r['n']:,} | {r['size_mb']:.1f} | {f['seconds']:.2f} | {f['peak_mb']:.0f} | "
            f"{c['seconds']:.2f} | {c['peak_mb']:.0f} | {ratio(c['seconds'], f['seconds'])} | "
            f"{ratio(c['peak_mb'], f['peak_mb'])} | {load} |"
        )
    lines += ["", "Goal (issue 19): at most 2x the floor in time and 1.5x in peak memory.", ""]
    return "\n".join(lines)


def write_doc(section: str, notes: str = "") -> None:
    """Put the section after the KEEP marker of docs/performance.md (replacing an older one)."""
    text = DOC.read_text()
    body = section.rstrip("\n") + ("\n\n" + notes.strip("\n") if notes else "") + "\n"
    if TITLE in text:
        head, rest = text.split(TITLE, 1)
        nxt = rest.find("\n## ")
        text = head + body + ("\n" + rest[nxt + 1:] if nxt >= 0 else "")
    elif KEEP in text:
        head, rest = text.split(KEEP, 1)
        text = head + KEEP + "\n\n" + body + rest
    else:
        text = text.rstrip("\n") + "\n\n" + body
    DOC.write_text(text)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    p.add_argument("--n", type=int, nargs="+", default=[1_000_000])
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--floor", nargs=2, metavar=("SRC", "OUT"), help=argparse.SUPPRESS)
    p.add_argument("--no-doc", action="store_true", help="write bench/out/commands.md only")
    a = p.parse_args(argv)
    if a.floor:
        floor(*a.floor)
        return
    results = []
    with tempfile.TemporaryDirectory(prefix="calib_bench_cmd_") as d:
        for n in a.n:
            results.append(run(n, a.repeat, Path(d)))
            print(results[-1], flush=True)
    section = render(results, a.repeat)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(section)
    print(section)
    if not a.no_doc:
        write_doc(section)


if __name__ == "__main__":
    main()
