# The two commands the README promises. Both create and use a project-local virtual environment
# (.venv, made from PYTHON), so nothing needs activating and Debian's externally-managed Python
# is never touched. PYTHON may point at any Python >= 3.11.
PYTHON ?= python3
VENV ?= .venv
PYTEST_ARGS ?=
VPY := $(VENV)/bin/python
PIP := $(VPY) -m pip install --quiet --disable-pip-version-check

.PHONY: demo test install-test bench venv

$(VPY):
	$(PYTHON) -m venv $(VENV)
	$(VPY) -m pip install --quiet --disable-pip-version-check --upgrade pip

venv: $(VPY)

demo: $(VPY)
	$(PIP) -e ".[dataframe,snakemake,prefect]"
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" PYTHON="$(CURDIR)/$(VPY)" bash scripts/demo

install-test: $(VPY)
	bash scripts/install-test-services
	$(PIP) -e ".[test]"

# Nextflow is assembled from Maven Central into .tools/ (scripts/install-nextflow) and put on PATH.
test: install-test
	PATH="$$(bash scripts/install-nextflow --quiet):$(CURDIR)/$(VENV)/bin:$$PATH" $(VPY) -m pytest -n 2 $(PYTEST_ARGS)

bench: $(VPY)
	$(PIP) -e ".[test]"
	for script in benchmarks/*.py; do PATH="$(CURDIR)/$(VENV)/bin:$$PATH" $(VPY) $$script || exit 1; done
