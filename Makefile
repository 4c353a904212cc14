# Everything a fresh machine needs, from the two commands in the README.
# uv is bootstrapped into .tools/ with the machine's own Python; the project's
# environment is .venv/, built exactly from uv.lock.
PY ?= python3
UV_VERSION ?= 0.13.9
TOOLS := .tools
UV := $(TOOLS)/bin/uv
VENV := .venv
ACCORD_HOME ?= $(CURDIR)/.accord-home
export ACCORD_HOME

.PHONY: run test lint typecheck venv bench clean

$(UV):
	$(PY) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet --disable-pip-version-check "uv==$(UV_VERSION)"

$(VENV)/.synced: $(UV) pyproject.toml uv.lock
	$(UV) sync --frozen --all-extras --quiet --compile-bytecode
	touch $@

venv: $(VENV)/.synced

run: venv
	$(VENV)/bin/accord init
	$(VENV)/bin/accord serve --host 127.0.0.1 --port 8000

test: venv
	$(VENV)/bin/ruff check src tests benchmarks
	$(VENV)/bin/mypy
	$(VENV)/bin/pytest -q

lint: venv
	$(VENV)/bin/ruff check src tests benchmarks
	$(VENV)/bin/ruff format --check src tests benchmarks

typecheck: venv
	$(VENV)/bin/mypy

clean:
	rm -rf $(TOOLS) $(VENV)
