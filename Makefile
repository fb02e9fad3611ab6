PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: run test fast-test docs lint bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

run: $(BIN)/python
	$(BIN)/python -m pip install --quiet '.[nest]'
	$(BIN)/eprop run task=handwriting

test: $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[nest,test,sweep,docs]'
	$(BIN)/python -m pytest -q

fast-test: $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[nest,test,sweep]'
	$(BIN)/python -m pytest -q -m "not nest and not slow" -n auto

docs: $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[docs]'
	$(BIN)/python -m mkdocs build --strict --site-dir site

lint: $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test]'
	$(BIN)/python -m ruff check .
	$(BIN)/python -m ruff format --check .

clean:
	rm -rf $(VENV) build dist *.egg-info
