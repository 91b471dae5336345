# The two commands a newcomer runs: `make demo` (set up, run the main job) and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip
PYTEST_ARGS ?= -n 2 --dist loadfile

.PHONY: demo test test-triton-compat lint venv clean

$(BIN)/lstui: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -e '.[test]'
	touch $(BIN)/lstui

venv: $(BIN)/lstui

demo: venv
	$(BIN)/lstui demo

test: venv
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# The Triton kernel's tests once more under the Triton of the GPU machines' image
# (torch 2.11 brings Triton 3.6; this venv has torch's own): CI runs it after `make test`.
TRITON_COMPAT ?= 3.6.0
TRITON_DIR := $(VENV)/triton-$(TRITON_COMPAT)
test-triton-compat: venv
	test -d $(TRITON_DIR) || $(PIP) install -q --no-deps --target $(TRITON_DIR) triton==$(TRITON_COMPAT)
	PYTHONPATH=$(TRITON_DIR) $(BIN)/python -c 'import triton; assert triton.__version__ == "$(TRITON_COMPAT)", triton.__version__'
	PYTHONPATH=$(TRITON_DIR) $(BIN)/python -m pytest -q -p no:cacheprovider tests/landscape/test_triton_conv.py

lint: venv
	$(BIN)/ruff check lstui tests benchmarks
	$(BIN)/mypy lstui

clean:
	rm -rf $(VENV) lstui-out .pytest_cache .mypy_cache .ruff_cache
