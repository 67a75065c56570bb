# aiplane: `make run` starts the platform with a demo; `make test` runs every check.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Two stamps: `make run` installs what running needs, `make test` adds the dev extras (test
# tools, interop clients, PostgreSQL driver), each once per change of pyproject.toml.
RUN_STAMP := $(VENV)/.installed-run
DEV_STAMP := $(VENV)/.installed-dev

.PHONY: run test lint typecheck openapi-check bench-serving bench-auth bench-tenancy bench-audit bench-quantize bench-gpu-pool clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# uv installs the run dependencies several times faster than pip (parallel downloads and
# unpacking, a shared cache): fresh clone to the demo's curl line in well under a minute.
$(BIN)/uv: | $(BIN)/python
	$(BIN)/python -m pip install --quiet 'uv==0.13.10'

$(RUN_STAMP): pyproject.toml | $(BIN)/uv
	$(BIN)/uv pip install --quiet --python $(BIN)/python -e .
	touch $(RUN_STAMP)

$(DEV_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(DEV_STAMP) $(RUN_STAMP)

run: $(RUN_STAMP)
	$(BIN)/aiplane up --demo

# The SSO tests' real OpenID Provider (npm oidc-provider, pinned in tests/oidc/package-lock.json),
# installed once into tests/oidc/node_modules; needs Node.js 20+ and npm.
OIDC := tests/oidc/node_modules/.installed
$(OIDC): tests/oidc/package.json tests/oidc/package-lock.json
	tests/oidc/install.sh

test: $(DEV_STAMP) $(OIDC)
	scripts/test-packages.sh
	PYTHONPATH=src $(BIN)/lint-imports
	PYTHONPATH=src $(BIN)/mypy src/aiplane
	scripts/with-postgres.sh $(BIN)/python -m pytest $(PYTEST_ARGS)

# schemathesis against a real `aiplane up` with more examples than the suite's run.
openapi-check: $(DEV_STAMP)
	AIPLANE_SCHEMATHESIS_EXAMPLES=$${EXAMPLES:-100} PYTHONPATH=src $(BIN)/python -m pytest -q tests/e2e/test_openapi.py

bench-serving: $(DEV_STAMP)
	bench/serving/run.sh

bench-auth: $(DEV_STAMP)
	$(BIN)/python bench/serving/auth.py

bench-tenancy: $(DEV_STAMP)
	$(BIN)/python bench/tenancy/run.py

bench-audit: $(DEV_STAMP)
	$(BIN)/python bench/audit/run.py

# MiniLM needs the transformers extra: $(BIN)/pip install '.[transformers]' (torch CPU, ~1 GB).
bench-quantize: $(DEV_STAMP)
	HF_HUB_OFFLINE=1 $(BIN)/python bench/quantize/run.py

bench-gpu-pool: $(DEV_STAMP)
	PYTHONPATH=src $(BIN)/python bench/gpu_pool/run.py --chart docs/img/gpu-pool-month.svg

typecheck: $(DEV_STAMP)
	PYTHONPATH=src $(BIN)/mypy src/aiplane

clean:
	rm -rf $(VENV) .aiplane .pytest_cache
