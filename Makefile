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

# Benchmarks (issue 8; tables into docs/performance.md): backwatch next to acti-motus, the
# live daemon on the emulated stack, latency, start-up, scaling. Exits non-zero when a
# target is missed. acti-motus lives in its own environment, never in backwatch's.
BENCH_VENV ?= .venv-bench
ACTI_MOTUS ?= acti-motus==2.4.0

bench-env: bootstrap
	@test -x $(BENCH_VENV)/bin/python || $(BIN)/python -m venv $(BENCH_VENV)
	@$(BENCH_VENV)/bin/python -m pip install --quiet --disable-pip-version-check "$(ACTI_MOTUS)" py-spy \
		|| echo "bench: acti-motus could not be installed; its comparison will fail"

# Both run even when the first misses a target; the exit status is 0 only if both pass.
bench: bench-env
	@suite=0; soak=0; \
	$(BIN)/python -m bench.suite --bench-python $(BENCH_VENV)/bin/python || suite=$$?; \
	$(BIN)/python -m bench.soak || soak=$$?; \
	test $$suite -eq 0 && test $$soak -eq 0

# The older single benchmarks (evaluation in memory, one analyze run, the CSV parser).
bench-parts: bootstrap
	$(BIN)/python -m bench.evaluation_speed
	$(BIN)/python -m bench.analyze_run --runs 3
	$(BIN)/python -m bench.recording_parse

validate: bootstrap
	$(BIN)/python -m bench.validate

# Install as a systemd service on this machine (a Raspberry Pi): sudo make install
install:
	scripts/install.sh

clean:
	rm -rf $(VENV) $(BENCH_VENV) .bench-cache build *.egg-info .mypy_cache .ruff_cache
