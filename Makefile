# Two commands on a fresh machine: `make demo`, then `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
export DAGSTER_HOME := $(CURDIR)

.PHONY: setup demo test up bench reliability clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

demo: setup  ## submit the sample task and watch the daemon's sensor run it
	$(BIN)/orbit demo

test: setup  ## the whole suite, as CI runs it
	$(BIN)/pytest

up: setup  ## webserver on http://127.0.0.1:3000 + daemon, until Ctrl-C
	$(BIN)/orbit up

bench: setup  ## benchmarks; figures printed and written to bench/results/
	$(BIN)/python -m bench.documents --n 200 --n 1000 --latency 0.25 --concurrency 16

reliability: setup  ## the fault suite alone, and its table (bench/results/reliability.json)
	$(BIN)/python -m bench.reliability

clean:  ## stop the embedded Postgres and remove local state (keeps the virtualenv)
	-$(BIN)/orbit db stop
	rm -rf .orbit storage
