# Set-up and checks. `make demo` and `make test` work on a fresh machine:
# each creates .venv and installs the package with what it needs first.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PYTEST := $(PY) -m pytest -q -p no:cacheprovider
STAMP := $(VENV)/.installed

.PHONY: install demo test lint-imports test-tensorflow test-backends test-tfio test-min-versions docs bench clean

$(STAMP): setup.cfg pyproject.toml .ci/constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c .ci/constraints.txt -e ".[dev,tune,video,train,docs,backends,denoise]"
	touch $(STAMP)

install: $(STAMP)

# The main job on built-in data: search non-local block placement.
demo: $(STAMP)
	$(PY) applications/tune.py

# The import contract, everything on TensorFlow, the layers again on JAX and
# PyTorch, the tensorflow-io path in its own pinned environment, and the
# layers and models at the lowest versions setup.cfg declares.
test: lint-imports test-tensorflow test-backends test-tfio test-min-versions

# Dependencies point one way (the `[importlinter]` contract in setup.cfg).
lint-imports: $(STAMP)
	$(VENV)/bin/lint-imports setup.cfg

test-tensorflow: $(STAMP)
	$(PYTEST)

test-backends: $(STAMP)
	KERAS_BACKEND=jax $(PYTEST) tests/layers
	KERAS_BACKEND=torch $(PYTEST) tests/layers

test-tfio:
	PYTHON=$(PYTHON) bash .ci/tfio_env.sh

test-min-versions:
	PYTHON=$(PYTHON) bash .ci/min_versions.sh

docs: $(STAMP)
	$(VENV)/bin/mkdocs build --strict -d site

bench: $(STAMP)
	$(PY) benchmarks/bench_non_local.py

clean:
	rm -rf $(VENV) .venv-tfio .venv-min build dist *.egg-info
