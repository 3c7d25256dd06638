# Two commands do everything on a fresh machine:
#   make lessons   set up, then run every lesson on the bundled samples (build/lessons/)
#   make test      set up, then run the unit tests and every lesson under nbval
# Both create .venv on first use and reuse it afterwards.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.course-installed
KERNEL := deep-learning-course
NOTEBOOKS := $(sort $(wildcard notebooks/*.ipynb))
METRICS := $(CURDIR)/build/metrics
# make lessons and make test always use the offline samples, whatever the shell says.
# One thread: the sample models are small, and on a 2-core machine a second OpenMP thread
# (plus data-loading work) oversubscribes the cores; we measured lessons running 3-6x slower.
SAMPLE := COURSE_SIZE=sample COURSE_METRICS_DIR=$(METRICS) OMP_NUM_THREADS=1

.PHONY: setup lessons test unit notebooks results lab clean

setup: $(STAMP)

$(STAMP): requirements.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	$(BIN)/python -m pip install --quiet --no-deps -e .
	$(BIN)/python -m ipykernel install --user --name $(KERNEL) --display-name "Python (deep-learning course)"
	touch $(STAMP)

lessons: setup
	rm -rf build/lessons && mkdir -p build/lessons
	@for nb in $(NOTEBOOKS); do \
	  echo "== $$nb"; start=$$(date +%s); \
	  $(SAMPLE) $(BIN)/jupyter nbconvert --to notebook --execute --ExecutePreprocessor.timeout=900 \
	    --ExecutePreprocessor.kernel_name=python3 --output-dir build/lessons $$nb || exit 1; \
	  $(BIN)/jupyter nbconvert --to html --output-dir build/lessons build/lessons/$$(basename $$nb) || exit 1; \
	  echo "   $$(( $$(date +%s) - start )) s"; \
	done
	@echo "Executed lessons are in build/lessons/ (.ipynb and .html)."

test: setup unit notebooks results

# The unit tests, and every example in the docstrings of the package and the sample makers (doctest).
unit: setup
	$(BIN)/python -m pytest tests coursehelpers coursesamples --doctest-modules --ignore=tests/results -q

notebooks: setup
	rm -rf $(METRICS)
	$(SAMPLE) $(BIN)/python -m pytest --nbval-lax --nbval-current-env --nbval-cell-timeout=900 -q $(NOTEBOOKS)

results: setup
	COURSE_METRICS_DIR=$(METRICS) $(BIN)/python -m pytest tests/results -q

lab: setup
	$(BIN)/jupyter lab notebooks

clean:
	rm -rf build notebooks/models
