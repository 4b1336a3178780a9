"""Benchmarks: the cell engine, raking side by side with the peers (``python -m bench.run_all``)."""
