# calib — two set-up commands: `make demo` and `make test` (see README.md).
SHELL := /bin/bash
VENV  := .venv
PY    := $(VENV)/bin/python

# A working Python >= 3.12: $(PYTHON) first, then python3.13 / python3.12 that actually run
# (pyenv shims exist for versions that are not active), then pyenv's installs; the search is
# tools/find_python.sh (tested by tests/test_makefile.py).
FIND_PYTHON = PYTHON="$(PYTHON)" bash tools/find_python.sh

.PHONY: demo test test-slow bench lint venv venv-dev r-reference browser clean help

help:
	@echo "make demo       create .venv, install calib, run the main job on shipped data"
	@echo "make test       create .venv with the dev extra, install the R reference, run the suite"
	@echo "make test-slow  the slow statistical studies (coverage), not run in CI"
	@echo "make bench      benchmarks side by side with the peers; writes docs/performance.md"

$(VENV)/.stamp-run: pyproject.toml
	@py=$$($(FIND_PYTHON)) || exit 2; \
	echo "using $$py ($$($$py --version))"; \
	[ -x $(PY) ] || $$py -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip >/dev/null
	$(PY) -m pip install -q -e '.[fast]'
	@touch $@

$(VENV)/.stamp-dev: pyproject.toml $(VENV)/.stamp-run
	$(PY) -m pip install -q -e '.[dev,fast]'
	@touch $@

venv: $(VENV)/.stamp-run
venv-dev: $(VENV)/.stamp-dev

demo: venv
	$(VENV)/bin/calib demo

# The R reference (R survey) for the comparison tests: installed with apt-get when missing.
r-reference:
	@if command -v Rscript >/dev/null 2>&1 && Rscript -e 'quit(status = !(requireNamespace("survey", quietly = TRUE) && requireNamespace("MASS", quietly = TRUE)))' >/dev/null 2>&1; then \
	  echo "R survey: present"; \
	elif [ "$$(id -u)" = 0 ]; then \
	  echo "installing R and r-cran-survey with apt-get"; \
	  export DEBIAN_FRONTEND=noninteractive; \
	  apt-get update -q >/dev/null && apt-get install -y -q --no-install-recommends r-base-core r-cran-survey r-cran-mass >/dev/null; \
	else \
	  echo "error: R survey is missing. As root run: apt-get update && apt-get install -y --no-install-recommends r-base-core r-cran-survey r-cran-mass" >&2; exit 2; \
	fi

# Headless Chromium for the report test (Debian's chromium package).
browser:
	@if command -v chromium >/dev/null 2>&1; then \
	  echo "chromium: present"; \
	elif [ "$$(id -u)" = 0 ]; then \
	  echo "installing chromium with apt-get"; \
	  export DEBIAN_FRONTEND=noninteractive; \
	  apt-get update -q >/dev/null && apt-get install -y -q --no-install-recommends chromium >/dev/null; \
	else \
	  echo "error: chromium is missing. As root run: apt-get update && apt-get install -y --no-install-recommends chromium" >&2; exit 2; \
	fi

test: venv-dev r-reference browser
	$(PY) -m pytest -q

test-slow: venv-dev r-reference
	$(PY) -m pytest -q -m slow

bench: venv-dev r-reference
	$(PY) -m bench.run_all
	$(PY) -m bench.bench_commands --n 1000000 10000000

lint: venv-dev
	$(VENV)/bin/ruff check calib tests bench examples
	$(VENV)/bin/lint-imports

clean:
	rm -rf $(VENV) build dist out .pytest_cache
