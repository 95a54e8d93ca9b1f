# Two commands on a fresh machine: `make demo`, then `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
export DAGSTER_HOME := $(CURDIR)

.PHONY: setup browser tex audio demo lint test up bench reliability clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[local,test]'
	touch $@

demo: setup  ## submit the sample task and watch the daemon's sensor run it
	$(BIN)/orbit demo

lint: setup  ## ruff (lint and format check) and mypy, configured in pyproject.toml
	$(BIN)/ruff check orbit_pipelines bench orbit_pipelines_tests
	$(BIN)/ruff format --check orbit_pipelines bench orbit_pipelines_tests
	$(BIN)/mypy

# The suite in TEST_WORKERS processes: most of it waits on daemons, sensors and runs, not on the CPU. The live
# stack's tests share one worker (and one stack); a file with servers of its own stays in one worker.
TEST_WORKERS ?= 3

test: setup browser tex audio lint  ## the lint checks, then the whole suite, as CI runs it
	$(BIN)/pytest -n $(TEST_WORKERS) --dist loadgroup

# The browser tests drive Debian's Chromium (Playwright uses it; it downloads no browser). Installed
# only when it is missing and can be: as root with apt-get, as on CI's fresh machine. Elsewhere this
# does nothing and the tests say why they are skipped.
browser:
	@if [ ! -x /usr/bin/chromium ] && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		echo "installing Debian's chromium for the browser tests"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium \
			|| echo "could not install chromium: the browser tests will say so"; \
	fi

# The worksheet tests compile real PDFs with Debian's pdflatex (lmodern: Type 1 fonts, so no font is
# rendered at compile time) and read them back with pdftotext. Installed as chromium is.
tex:
	@if { ! command -v pdflatex >/dev/null 2>&1 || ! command -v pdftotext >/dev/null 2>&1 || ! kpsewhich lmodern.sty >/dev/null 2>&1; } \
		&& [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		echo "installing Debian's texlive-latex-base, lmodern and poppler-utils for the worksheet tests"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
			texlive-latex-base lmodern poppler-utils \
			|| echo "could not install the TeX engine: the worksheet tests will say so"; \
	fi

# The voice tests decode audio with Debian's ffmpeg (ffprobe checks a file by its content), make speech
# with espeak-ng and convert it with sox. The run workers need ffmpeg too. Installed as chromium is.
audio:
	@if { ! command -v ffmpeg >/dev/null 2>&1 || ! command -v ffprobe >/dev/null 2>&1 || ! command -v espeak-ng >/dev/null 2>&1 || ! command -v sox >/dev/null 2>&1; } \
		&& [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		echo "installing Debian's ffmpeg, espeak-ng and sox for the voice job and its tests"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
			ffmpeg espeak-ng sox \
			|| echo "could not install the audio tools: the voice tests will say so"; \
	fi

up: setup audio  ## webserver on http://127.0.0.1:3000 + daemon, until Ctrl-C
	$(BIN)/orbit up

bench: setup  ## every benchmark, then targets vs measured (bench/results/*.json, summary.json)
	$(BIN)/python -m bench

reliability: setup  ## the fault suite alone, and its table (bench/results/reliability.json)
	$(BIN)/python -m bench.reliability

clean:  ## stop the embedded Postgres and remove local state (keeps the virtualenv)
	-$(BIN)/orbit db stop
	rm -rf .orbit storage
