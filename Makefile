# The two commands of the README: `make demo` and `make test`. Each sets up everything
# it needs on a fresh machine (.venv, the project, Debian packages for the GDAL-client
# and browser tests) and is a no-op for steps already done.
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)
STORE  ?= data/renewal.gpkg
PORT   ?= 8000

.PHONY: demo test lint bench system-deps clean

$(STAMP): pyproject.toml
	@test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	@rm -f $(VENV)/.installed-*
	@touch $@

system-deps:
	@bash scripts/system-deps.sh

demo: $(STAMP)
	$(VENV)/bin/renewal --store $(STORE) sample
	$(VENV)/bin/renewal --store $(STORE) targets --check
	$(VENV)/bin/renewal --store $(STORE) services 西大井片区
	$(VENV)/bin/renewal --store $(STORE) site-select --for 西大井片区 --units 1000 --require kindergarten:300
	$(VENV)/bin/renewal --store $(STORE) progress --city 焦作市 --year 2023 --as-of 2023-10-15
	$(VENV)/bin/renewal --store $(STORE) serve --port $(PORT)

test: $(STAMP) system-deps
	$(VENV)/bin/ruff check .
	$(PY) -m pytest -q

bench: $(STAMP)
	@for b in bench/bench_*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

clean:
	rm -rf $(VENV) data test-output bench/out
