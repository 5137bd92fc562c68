# Two set-up commands for a fresh machine (Python 3.11, gcc, make): `make run` and `make test`.
# Both create or reuse .venv and install the pinned dependency set from requirements.lock.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.l1ad-installed

.PHONY: run test bench lock clean

$(STAMP): requirements.lock pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info[:2] == (3, 11), "l1ad needs Python 3.11, found " + sys.version.split()[0]'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip==26.3"
	$(BIN)/python -m pip install --quiet -r requirements.lock
	$(BIN)/python -m pip install --quiet --no-deps -e .
	@echo "compiling da4ml's numba kernels once (about 1-2 minutes)"
	$(BIN)/python -c "from l1ad.firmware.rtl import warm_up; warm_up()"
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/l1ad run

test: $(STAMP)
	$(BIN)/python -m pytest

# benchmarks print figures; bench_run.py makes runs/bench, which the csim and RTL benchmarks then use
bench: $(STAMP)
	$(BIN)/python benchmarks/bench_data.py
	$(BIN)/python benchmarks/bench_training.py
	$(BIN)/python benchmarks/bench_run.py
	$(BIN)/python benchmarks/bench_csim.py runs/bench
	$(BIN)/python benchmarks/bench_rtl.py runs/bench

# refresh requirements.lock from the current environment (after a deliberate upgrade)
lock:
	$(BIN)/python -m pip freeze --exclude-editable > requirements.lock

clean:
	rm -rf $(VENV) hls_projects/*/ runs/
