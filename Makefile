# Everything a fresh machine needs is installed by these targets.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PY_STAMP := $(VENV)/.installed
NPM_STAMP := node_modules/.installed

.PHONY: setup demo test lint typecheck wheel bench clean

setup: $(PY_STAMP) $(NPM_STAMP)

# Development: every distribution, editable, with every extra. pip shows what it downloads
# (a progress bar on a terminal, one line per package otherwise, as in CI).
$(PY_STAMP): pyproject.toml nodetask/pyproject.toml localbatch/pyproject.toml
	@echo "setup: Python packages into $(VENV)/ (about 65 MB to download, 600 MB installed, 1.5 min or more)"
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --disable-pip-version-check \
		-e ./nodetask -e ./localbatch -e '.[dev,deploy,offline]'
	touch $@

$(NPM_STAMP): package.json package-lock.json
	@echo "setup: Azurite into node_modules/ (about 65 MB to download, 185 MB installed, 20 s or more)"
	npm ci --no-audit --no-fund
	touch $@

## demo: the main job - the whole pipeline offline over the sample texts in data/
# (make demo NUMWORDS=5; unset, the run's own default or your `batchwords config set numwords`)
demo: $(PY_STAMP) $(NPM_STAMP)
	$(BIN)/batchwords run data $(if $(NUMWORDS),--numwords $(NUMWORDS)) --output-dir build/run

## test: ruff, mypy and every test
test: lint typecheck $(NPM_STAMP)
	$(BIN)/pytest

lint: $(PY_STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(PY_STAMP)
	$(BIN)/mypy

## wheel: the node release a pool's StartTask installs, into build/wheels: nodetask's wheel, its dependencies' wheels for the Azure nodes (Python 3.12, x86_64) and the lock pinning each by sha256
wheel: $(PY_STAMP)
	$(BIN)/python -m batchwords._wheel_build build/wheels

## bench: nodetask throughput and memory, its install and fixed cost per task, transfers, localbatch task rates, batchwords submit/monitor, end to end (SIZES in MB, e.g. make bench SIZES="100 1000")
SIZES ?= 100
bench: $(PY_STAMP) $(NPM_STAMP)
	$(BIN)/python bench/nodetask_bench.py --sizes $(SIZES)
	$(BIN)/python bench/install_bench.py
	$(BIN)/python bench/task_cost_bench.py --inputs 100
	$(BIN)/python bench/transfer_bench.py
	$(BIN)/python bench/localbatch_bench.py --tasks 10000
	$(BIN)/python bench/submit_bench.py --inputs 10000
	$(BIN)/python bench/e2e_bench.py --files 3 30 300 3000

clean:
	rm -rf $(VENV) node_modules build dist bench/corpus
