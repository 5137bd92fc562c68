# Two set-up commands for a fresh machine (Python 3.11, gcc, make): `make run` and `make test`.
# Both create or reuse .venv and install the pinned dependency set from requirements.lock.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.l1ad-installed

.PHONY: run test docs bench lock clean

$(STAMP): requirements.lock pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info[:2] == (3, 11), "l1ad needs Python 3.11, found " + sys.version.split()[0]'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip==26.3"
	@# da4ml first: its numba kernels compile into their cache (about a minute of one core) while pip installs the
	@# rest, which leaves a core idle; `l1ad run` and the tests would otherwise compile them beside their first work
	$(BIN)/python -m pip install --quiet --no-compile -c requirements.lock da4ml
	@# bytecode on every core (pip compiles on one) at a lower priority, so that the kernels keep theirs; packages'
	@# own test folders left out; like pip, a file that does not compile is left to import time
	$(BIN)/python -I firmware/da4ml_cache.py & kernels=$$!; \
	$(BIN)/python -m pip install --quiet --no-compile -r requirements.lock \
	&& { nice -n 10 $(BIN)/python -m compileall -q -j 0 -x '/tests?/' $$($(BIN)/python -c "import sysconfig; print(sysconfig.get_path('purelib'))") || true; } \
	&& $(BIN)/python -m pip install --quiet --no-deps -e .; \
	status=$$?; if [ $$status -ne 0 ]; then kill $$kernels 2>/dev/null; fi; wait $$kernels && exit $$status
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/l1ad run

test: $(STAMP)
	$(BIN)/python -m pytest

# the documentation site, in docs/_build/html: warnings are errors; the notebooks are executed (fast setting, on
# runs/default when make run made it) and cached, so a rebuild re-runs only the notebooks that changed
docs: $(STAMP)
	L1AD_DOCS_EXECUTE=cache L1AD_NOTEBOOK_FAST=1 $(if $(wildcard runs/default/report.json),L1AD_RUN=$(CURDIR)/runs/default) \
		$(BIN)/python -m sphinx -W --keep-going -q -b html docs docs/_build/html
	@echo "documentation: docs/_build/html/index.html"

# benchmarks print figures; bench_run.py makes runs/bench, which the csim and RTL benchmarks then use
bench: $(STAMP)
	$(BIN)/python benchmarks/bench_data.py
	$(BIN)/python benchmarks/bench_training.py
	$(BIN)/python benchmarks/bench_run.py
	$(BIN)/python benchmarks/bench_csim.py runs/bench
	$(BIN)/python benchmarks/bench_validate.py runs/bench
	$(BIN)/python benchmarks/bench_rtl.py runs/bench

# refresh requirements.lock from the current environment (after a deliberate upgrade)
lock:
	$(BIN)/python -m pip freeze --exclude-editable > requirements.lock

clean:
	rm -rf $(VENV) hls_projects/*/ runs/ docs/_build/ docs/_generated/
