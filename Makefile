# Two commands a new user needs: `make demo` and `make test`. Each sets itself up first.
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: bootstrap demo test lint typecheck pytest bench validate clean

bootstrap:
	@scripts/bootstrap.sh

demo: bootstrap
	$(BIN)/backwatch demo

test: bootstrap
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/pytest

bench: bootstrap
	$(BIN)/python -m bench.run

validate: bootstrap
	$(BIN)/python -m bench.validate

clean:
	rm -rf $(VENV) build *.egg-info .mypy_cache .ruff_cache
