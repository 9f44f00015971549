# The two commands the README promises. PYTHON may point at any Python >= 3.11.
PYTHON ?= python3
PYTEST_ARGS ?=

.PHONY: demo test install-test bench

demo:
	$(PYTHON) -m pip install --quiet --disable-pip-version-check -e ".[dataframe,snakemake,prefect]"
	PYTHON=$(PYTHON) bash scripts/demo

install-test:
	bash scripts/install-test-services
	$(PYTHON) -m pip install --quiet --disable-pip-version-check -e ".[test]"

# Nextflow is assembled from Maven Central into .tools/ (scripts/install-nextflow) and put on PATH.
test: install-test
	PATH="$$(bash scripts/install-nextflow --quiet):$$PATH" $(PYTHON) -m pytest -n 2 $(PYTEST_ARGS)

bench:
	$(PYTHON) -m pip install --quiet --disable-pip-version-check -e ".[test]"
	for script in benchmarks/*.py; do $(PYTHON) $$script || exit 1; done
