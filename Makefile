# Two commands a new user needs: `make demo` and `make test`. Each sets itself up first.
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: bootstrap demo test bench validate install clean

bootstrap:
	@scripts/bootstrap.sh

demo: bootstrap
	$(BIN)/backwatch demo

test: bootstrap
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/pytest

# Benchmarks (figures in docs/performance.md); each prints min/median/max of repeated runs.
bench: bootstrap
	$(BIN)/python -m bench.evaluation_speed
	$(BIN)/python -m bench.analyze_run --runs 3
	$(BIN)/python -m bench.recording_parse

validate: bootstrap
	$(BIN)/python -m bench.validate

# Install as a systemd service on this machine (a Raspberry Pi): sudo make install
install:
	scripts/install.sh

clean:
	rm -rf $(VENV) build *.egg-info .mypy_cache .ruff_cache
