PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: install test demo lint results clean

$(BIN)/python:
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "$(PYTHON) not found; run make PYTHON=python3.x"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --upgrade pip

# The package alone (what `make demo` needs).
$(VENV)/.installed: pyproject.toml setup.py | $(BIN)/python
	$(BIN)/python -m pip install -e .
	touch $@

# The package with its test extras (dlib, facex, serving protos, nbclient, ...).
$(VENV)/.installed-test: pyproject.toml setup.py | $(BIN)/python
	$(BIN)/python -m pip install -e ".[test]"
	touch $@ $(VENV)/.installed

install: $(VENV)/.installed

# One pytest worker per core (at most 4), a test file per worker at a time
# (module fixtures are built once): most tests keep about one core busy.
test: $(VENV)/.installed-test
	$(BIN)/python -m pytest -q -n auto --maxprocesses 4 --dist loadfile

demo: $(VENV)/.installed
	$(BIN)/kavan demo

results: $(VENV)/.installed-test
	$(BIN)/kavan results

lint: $(VENV)/.installed-test
	$(BIN)/ruff check kavan_tf tests benchmarks
	$(BIN)/mypy kavan_tf

clean:
	rm -rf $(VENV) build *.egg-info
