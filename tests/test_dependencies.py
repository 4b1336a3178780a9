"""Every third-party module calib imports is a declared dependency (a plain ``pip install
calib`` must run what it ships: an undeclared ``import click`` once broke the CLI of a wheel
while every test passed in the dev venv, which has click through other packages)."""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

#: imported only behind calib.core.optional.require (the ``dist`` extra) or by the stdlib
OPTIONAL = {"dask": "dist", "distributed": "dist"}


def _imported_top_modules() -> set[str]:
    names: set[str] = set()
    for path in (ROOT / "calib").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names.update(a.name.split(".")[0] for a in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
    return {n for n in names if n != "calib" and n not in sys.stdlib_module_names}


def _declared() -> tuple[set[str], dict[str, set[str]]]:
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]

    def norm(req: str) -> str:
        return re.split(r"[\s<>=!~\[;]", req, maxsplit=1)[0].lower().replace("_", "-")

    extras = {k: {norm(r) for r in v} for k, v in meta["optional-dependencies"].items()}
    return {norm(r) for r in meta["dependencies"]}, extras


def test_every_imported_module_is_a_declared_dependency():
    deps, extras = _declared()
    dists = packages_distributions()
    missing = []
    for mod in sorted(_imported_top_modules()):
        owners = {d.lower().replace("_", "-") for d in dists.get(mod, [])}
        if mod in OPTIONAL:
            assert owners & extras[OPTIONAL[mod]], f"{mod} is not in the {OPTIONAL[mod]} extra"
            continue
        if not owners & deps:
            missing.append(f"{mod} (from {sorted(owners) or 'an unknown distribution'})")
    assert not missing, f"imported by calib but not in [project] dependencies: {missing}"
