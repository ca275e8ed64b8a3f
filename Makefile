# The two commands a newcomer needs: `make dev` (whole system on the embedded default)
# and `make test` (install and run the suite). Both create .venv on first use.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: dev test test-fast install system-packages lint clean

$(PY):
	$(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

# torch first and pinned: pip then finds the local CPU wheel instead of pulling CUDA builds.
$(STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

dev: install
	$(PY) -m claiv.devstack

# make, Chromium and its driver for the console's browser tests: installed when missing on
# Debian as root; elsewhere those tests are skipped with the reason (required under CI=true).
system-packages:
	@.ci/system-packages

test: install system-packages
	$(PY) -m pytest $(PYTEST_ARGS)

# The suite without Chromium, the SDK, Celery workers and long runs: for the edit loop.
test-fast: install
	$(PY) -m pytest -m "not browser and not sdk and not worker and not slow" $(PYTEST_ARGS)

# The house rules a machine checks (CONTRIBUTING.md): style, format, layering, types,
# migrations in step with the models. Same checks as .pre-commit-config.yaml.
lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports
	$(PY) scripts/mypy_baseline.py
	$(PY) manage.py makemigrations --check --dry-run

clean:
	rm -rf $(VENV) .data
