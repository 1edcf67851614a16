# Two commands for a fresh clone: `make demo` and `make test`. Both create .venv, install
# what they need (once: a stamp tracks pyproject.toml) and fetch model assets (once).
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
TRYON := $(VENV)/bin/tryon
STAMP := $(VENV)/.installed-stamp
DEMO_OUT ?= outputs/demo
CHROMIUM := /usr/bin/chromium

.PHONY: install fetch chromium test demo app lint format clean

$(PY):
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[all,dev]'
	touch $(STAMP)

install: $(STAMP)

fetch: install
	$(TRYON) models fetch

# The storefront's browser test drives Debian's Chromium (never Playwright's own download).
$(CHROMIUM):
	@echo "installing Debian's chromium for the storefront browser test (apt-get) ..."
	@SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
	  $$SUDO apt-get update -qq >/dev/null && \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium >/dev/null

chromium: $(CHROMIUM)

test: fetch chromium
	$(PY) -m pytest

app: fetch
	$(TRYON) app

demo: fetch
	$(TRYON) data synth --out $(DEMO_OUT)/synthetic --identities 8 --poses 3 --size 256 --seed 0
	$(TRYON) data check $(DEMO_OUT)/synthetic
	$(TRYON) data preview $(DEMO_OUT)/synthetic --out $(DEMO_OUT)/contact_sheet.png
	$(TRYON) demo --out $(DEMO_OUT)/tryon
	@echo
	@echo "demo outputs: $(DEMO_OUT)/ (data contact sheet: $(DEMO_OUT)/contact_sheet.png)"
	@echo "try-on contact sheets: $(DEMO_OUT)/tryon/index.html ($(DEMO_OUT)/tryon/contact_sheets/*.png)"

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: install
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

clean:
	rm -rf $(VENV) outputs .pytest_cache
