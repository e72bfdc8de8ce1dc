# Two commands set everything up: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: setup run test lint bench clean

$(BIN)/spendledger: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet --constraint constraints.txt --editable '.[dev]'
	@touch $@

# The dashboard's front-end libraries and the API docs' (Swagger UI, ReDoc), from the npm
# registry at the versions of package-lock.json, copied into the package's static folder
# (never committed), so every page and /docs work offline. Install scripts never run: only
# these files are used. ReDoc's sidebar shows its maker's logo from a CDN: the copy shows
# none (an empty image; the page's policy forbids other hosts too, see web/docs.py).
VENDOR := src/spendledger/web/static/vendor
$(VENDOR)/.stamp: package.json package-lock.json Makefile
	npm ci --no-audit --no-fund --ignore-scripts --loglevel=error
	mkdir -p $(VENDOR)
	cp node_modules/echarts/dist/echarts.min.js node_modules/htmx.org/dist/htmx.min.js $(VENDOR)/
	cp node_modules/swagger-ui-dist/swagger-ui-bundle.js node_modules/swagger-ui-dist/swagger-ui.css \
	   node_modules/swagger-ui-dist/favicon-32x32.png $(VENDOR)/
	sed 's#https://cdn.redoc.ly/redoc/logo-mini.svg#data:,#' node_modules/redoc/bundles/redoc.standalone.js \
	   > $(VENDOR)/redoc.standalone.js
	@touch $@

setup: $(BIN)/spendledger $(VENDOR)/.stamp

# The settings every `spendledger` command run in this folder (or below) reads, so that
# `make run` and `.venv/bin/spendledger ...` act on one ledger: ./data. Written once; edit it.
spendledger.env:
	@printf '%s\n' \
	  '# spendledger settings for commands run in this folder or below (the environment wins).' \
	  '# A relative SPENDLEDGER_DATA_DIR is relative to this folder.' \
	  'SPENDLEDGER_DATA_DIR=data' > $@

# Migrate, load demo data when the ledger is empty, serve the dashboard (PORT=8123 for another port).
run: setup spendledger.env
	$(BIN)/spendledger db upgrade
	$(BIN)/spendledger demo --if-empty
	$(BIN)/spendledger users demo-admin
	$(BIN)/spendledger serve --host $(HOST) --port $(PORT)

# The whole suite, PostgreSQL included (see tests/conftest.py for the server it uses), on
# one worker per core (pytest-xdist; TEST_WORKERS=0 runs it in one process). Each worker
# has its own databases, ports and temporary folders; idle workers take tests from busy ones.
TEST_WORKERS ?= auto
test: setup
	$(BIN)/pytest -n $(TEST_WORKERS) --dist worksteal

lint: setup
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/lint-imports
	$(BIN)/mypy

bench: setup
	$(BIN)/python bench/ingest.py
	$(BIN)/python bench/query.py
	$(BIN)/python bench/sync.py

clean:
	rm -rf $(VENV) data spendledger.env artifacts .pytest_cache .mypy_cache .ruff_cache node_modules $(VENDOR)
