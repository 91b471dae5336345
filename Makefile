# The two commands a newcomer runs: `make demo` (set up, run the main job) and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip
PYTEST_ARGS ?= -n 2 --dist loadfile

.PHONY: demo test lint venv clean

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

lint: venv
	$(BIN)/ruff check lstui tests benchmarks
	$(BIN)/mypy lstui

clean:
	rm -rf $(VENV) lstui-out .pytest_cache .mypy_cache .ruff_cache
