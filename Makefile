# The two commands the README promises. Both create and use a project-local virtual environment
# (.venv, made from PYTHON), so nothing needs activating and Debian's externally-managed Python
# is never touched. PYTHON may point at any Python >= 3.11.
PYTHON ?= python3
VENV ?= .venv
# A second environment for the core without engines, on the newest SQLAlchemy (2.1) and pandas (3):
# the engines' extras hold both back (Snakemake caps SQLAlchemy below 2.1, anndata pandas below 3).
CORE_VENV ?= .venv-core
PYTEST_ARGS ?=
VPY := $(VENV)/bin/python
CORE_VPY := $(CORE_VENV)/bin/python
PIP := $(VPY) -m pip install --quiet --disable-pip-version-check

.PHONY: demo test install-test bench venv

$(VPY):
	$(PYTHON) -m venv $(VENV)
	$(VPY) -m pip install --quiet --disable-pip-version-check --upgrade pip

$(CORE_VPY):
	$(PYTHON) -m venv $(CORE_VENV)
	$(CORE_VPY) -m pip install --quiet --disable-pip-version-check --upgrade pip

venv: $(VPY)

demo: $(VPY)
	$(PIP) -e ".[dataframe,snakemake,prefect]"
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" PYTHON="$(CURDIR)/$(VPY)" bash scripts/demo

install-test: $(VPY) $(CORE_VPY)
	bash scripts/install-test-services
	$(PIP) -e ".[test]"
	$(CORE_VPY) -m pip install --quiet --disable-pip-version-check --upgrade -e ".[test-core]"

# Lint (ruff) and type-check the core (mypy, pyproject's [tool.mypy]), then the whole suite with
# every engine, then the core's tests on SQLAlchemy 2.1 and pandas 3.
# Nextflow is assembled from Maven Central into .tools/ (scripts/install-nextflow) and put on PATH.
test: install-test
	$(VPY) -m ruff check flowtrail tests benchmarks examples snakemake_logger_plugin_flowtrail
	$(VPY) -m mypy
	PATH="$$(bash scripts/install-nextflow --quiet):$(CURDIR)/$(VENV)/bin:$$PATH" $(VPY) -m pytest -n 2 $(PYTEST_ARGS)
	$(CORE_VPY) -c "import sqlalchemy, pandas; print('core-only environment: SQLAlchemy', sqlalchemy.__version__, 'pandas', pandas.__version__)"
	PATH="$(CURDIR)/$(CORE_VENV)/bin:$$PATH" $(CORE_VPY) -m pytest -n 2 -p no:cacheprovider $(PYTEST_ARGS) tests/core tests/cli tests/test_public_api.py

bench: $(VPY)
	$(PIP) -e ".[test]"
	for script in benchmarks/*.py; do PATH="$(CURDIR)/$(VENV)/bin:$$PATH" $(VPY) $$script || exit 1; done
