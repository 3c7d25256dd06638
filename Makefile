# Two commands do everything on a fresh machine:
#   make lessons   set up, then run every lesson on the bundled samples (build/lessons/)
#   make test      set up, then run the unit tests and every lesson under nbval
# Both create .venv on first use and reuse it afterwards. Lesson 7's web app:
#   make app       serve it on http://127.0.0.1:7860 (training the sample model first if there is none)
#   make space     the files a Hugging Face Space needs to serve it, in build/space/
# Parts of make test on their own: make unit (fast), make integration (processes, browser, full mode),
# make fullmode (every lesson with COURSE_SIZE=full against a local mirror). Not in CI: make mutants.

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
# The HTML copies of the lessons load MathJax from a copy beside them, so formulas render offline.
MATHJAX := mathjax/MathJax.js?config=TeX-AMS-MML_HTMLorMML-full,Safe

# The model `make app` serves: lesson 7 exports it here; without it, app/train_sample.py trains it.
APP_MODEL ?= notebooks/models/pets_sample.pth
APP_PORT ?= 7860

.PHONY: setup lessons test unit integration fullmode notebooks results lab app space clean mutants

setup: $(STAMP)

$(STAMP): requirements.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	@echo "Installing the course's packages: about 3.1 GB to download (PyTorch with its CUDA libraries, which"
	@echo "also run on a CPU), 6 GB in .venv/; about 8 minutes on two cores, plus the download. Only the first time."
	$(BIN)/python -m pip install --progress-bar on -r requirements.txt
	$(BIN)/python -m pip install --quiet --no-deps -e .
	$(BIN)/python -m ipykernel install --user --name $(KERNEL) --display-name "Python (deep-learning course)"
	touch $(STAMP)

lessons: setup
	rm -rf build/lessons && mkdir -p build/lessons
	cp -r "$$($(BIN)/python -c 'import jupyter_server_mathjax, pathlib; print(pathlib.Path(jupyter_server_mathjax.__file__).parent / "static")')" build/lessons/mathjax
	@for nb in $(NOTEBOOKS); do \
	  echo "== $$nb"; start=$$(date +%s); \
	  $(SAMPLE) $(BIN)/jupyter nbconvert --to notebook --execute --ExecutePreprocessor.timeout=900 \
	    --ExecutePreprocessor.kernel_name=python3 --output-dir build/lessons $$nb || exit 1; \
	  $(BIN)/jupyter nbconvert --to html --HTMLExporter.mathjax_url='$(MATHJAX)' \
	    --output-dir build/lessons build/lessons/$$(basename $$nb) || exit 1; \
	  echo "   $$(( $$(date +%s) - start )) s"; \
	done
	@echo "Executed lessons are in build/lessons/ (.ipynb and .html)."

# integration and notebooks side by side: each process uses one core (one OpenMP thread), and the two are
# independent (full mode runs its copies of the lessons in a temporary folder), so on two cores the pair takes
# about as long as integration alone. --output-sync prints each one's log whole when it finishes.
test: setup unit
	$(MAKE) --no-print-directory -j2 --output-sync=target integration notebooks
	$(MAKE) --no-print-directory results

# The fast unit tests, and every example in the docstrings of the package and the sample makers (doctest).
# -rs prints why a test was skipped: only a missing GPU or browser may skip one (tests/test_suite_rules.py).
# One OpenMP thread, as for the lessons: on a busy 2-core machine the unit tests took 48 s with one, 80-102 s with two.
unit: setup
	OMP_NUM_THREADS=1 $(BIN)/python -m pytest tests coursehelpers coursesamples tools --doctest-modules --ignore=tests/results \
	  -m "not integration" -q -rs --durations=5

# What starts other processes, a browser or a benchmark, and the full-mode rehearsal (make fullmode).
integration: setup
	OMP_NUM_THREADS=1 $(BIN)/python -m pytest tests -m integration --ignore=tests/results -q -rs --durations=10

# Every lesson end to end with COURSE_SIZE=full against a mirror on 127.0.0.1 (tests/test_full_mode.py):
# real architectures and sizes, mock data, random weights, COURSE_MAX_BATCHES capping each pass.
fullmode: setup
	$(BIN)/python -m pytest tests/test_full_mode.py tests/test_export_full_size.py -q -rs -s

notebooks: setup
	rm -rf $(METRICS)
	$(SAMPLE) $(BIN)/python -m pytest --nbval-lax --nbval-current-env --nbval-cell-timeout=900 -q $(NOTEBOOKS)

results: setup
	COURSE_METRICS_DIR=$(METRICS) $(BIN)/python -m pytest tests/results -q

# Jupyter refuses to run as root unless asked to, and root is usual in containers and cloud notebooks.
lab: setup
	$(BIN)/jupyter lab notebooks $$(test "$$(id -u)" = 0 && echo --allow-root)

# Served on 127.0.0.1 only: nothing outside this machine can reach it.
app: setup $(APP_MODEL)
	$(BIN)/python app/app.py --model $(APP_MODEL) --host 127.0.0.1 --port $(APP_PORT)

$(APP_MODEL): | $(STAMP)
	$(SAMPLE) $(BIN)/python app/train_sample.py $@

# What a Hugging Face Space needs (app.py, requirements.txt, README.md, the model, the package), in build/space/.
space: setup $(APP_MODEL)
	$(BIN)/python app/make_space.py $(APP_MODEL) build/space

clean:
	rm -rf build notebooks/models

# Mutation testing (not part of CI; hours for the whole package on two cores): mutmut 3 plants one
# small bug at a time in coursehelpers/ and runs the fast unit tests that call the function it
# changed; a bug no test notices "survives". tools/mutants.py runs it in a copy of the repository
# (build/mutation/) and prints the share killed per module. `make mutants MODULES="learner schedule"`
# runs a few.
MODULES ?=
mutants: setup
	$(BIN)/python -m pip install --quiet "mutmut>=3.3,<4"
	$(BIN)/python tools/mutants.py $(MODULES)
