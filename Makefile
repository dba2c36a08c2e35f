# The two commands of the README: `make run` (main job on the embedded default) and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test check lint typecheck pytest setup apt clean bench

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

setup: $(STAMP)

# The main job: the live lab (agent/lab.py) — simulated customer sites, an edge agent and the central role on
# the embedded store, and a live view. Until Ctrl-C on a terminal; 60 s with a demo outage otherwise.
# Options: make run ARGS='--duration 2m --demo lyon:20s:1m'  (see `vigie lab run --help`)
run: $(STAMP) apt
	$(BIN)/vigie lab run $(ARGS)

# System packages for the real test endpoints (root only; a non-root contributor sees those tests skip).
apt:
	@if [ "$$(id -u)" = 0 ] && [ -s .ci/apt-packages.txt ]; then \
	  missing=$$(for p in $$(grep -v '^#' .ci/apt-packages.txt); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	  if [ -n "$$missing" ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; fi; \
	fi

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check sla agent collectors device_profiles tests bench

typecheck: $(STAMP)
	$(BIN)/mypy --strict sla agent collectors device_profiles

# Starts the lab endpoints (tests/lab/services.d), runs pytest, stops every endpoint by PID.
pytest: $(STAMP) apt
	tests/lab/run $(BIN)/python -m pytest $(PYTEST_ARGS)

test: lint typecheck pytest

bench: $(STAMP)
	$(BIN)/python bench/sla_engine.py

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
