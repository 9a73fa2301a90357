# The book's commands. Both main targets set everything up on a fresh clone: the virtual environment
# (.venv, from requirements.txt), the offline Fashion-MNIST (Debian's dataset-fashion-mnist) and its cache.
#   make book   execute the chapters whose code changed since their executed copy, then build the HTML
#   make test   package tests, every chapter under nbval with the smoke profile, strict book build, and the
#               built book opened page by page in headless Chromium (when chromium and chromedriver exist)
# More:
#   make execute CHAPTER=07 PROFILE=gpu   re-execute one chapter (any profile: smoke, cpu, gpu, auto)
#   make execute PROFILE=cpu              re-execute every chapter

PROFILE ?= auto
CHAPTER ?=
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
FASHION_MNIST := /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: book test execute data

book: $(STAMP) data
	$(PY) -m gancourse.cli execute --profile $(PROFILE)
	$(PY) -m gancourse.cli build

test: $(STAMP) data
	$(PY) -m pytest --durations=15 tests
	rm -rf _build/smoke
	$(PY) -m gancourse.cli prepare _build/smoke --profile smoke
	GANCOURSE_NO_PROGRESS_BAR=1 GANCOURSE_CHECKPOINT_DIR=$(CURDIR)/_build/smoke/checkpoints $(PY) -m pytest --durations=15 --nbval-lax -p no:cacheprovider _build/smoke
	$(PY) -m gancourse.cli build
	@if command -v chromium >/dev/null && command -v chromedriver >/dev/null; then \
		$(PY) -m pytest -p no:cacheprovider browser_tests; \
	else echo "browser test skipped: install Debian's chromium and chromium-driver to run it"; fi

execute: $(STAMP) data
	$(PY) -m gancourse.cli execute $(if $(CHAPTER),$(CHAPTER),--all) --profile $(PROFILE)

$(STAMP): requirements.txt requirements-test.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements.txt
	$(PY) -m pip install -q --no-deps -r requirements-test.txt
	$(PY) -m pip install -q --no-deps -e .
	touch $(STAMP)

data: $(STAMP) $(FASHION_MNIST)
	$(PY) -m gancourse.cli fetch-data

$(FASHION_MNIST):
	$(SUDO) apt-get update -q
	$(SUDO) apt-get install -y -q dataset-fashion-mnist
