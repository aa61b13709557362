# The two set-up commands: `make demo` (install + run the whole pipeline on embedded
# defaults) and `make test` (install + run every test). Both create .venv with pip.
VENV   ?= .venv
PYTHON ?= python3
PY      = $(VENV)/bin/python
export HF_HUB_OFFLINE = 1
export TOKENIZERS_PARALLELISM = false
export SPARK_LOCAL_IP = 127.0.0.1

.PHONY: install sysdeps demo test bench clean

# Debian packages the tests use (docker-compose validates docker/compose.yaml; chromium renders the report).
SYSTEM_COMMANDS = docker-compose:docker-compose chromium:chromium

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q -U pip
	$(VENV)/bin/pip install -q -e '.[test]'
	touch $@

install: $(VENV)/.installed

demo: install
	$(VENV)/bin/intentmine demo

sysdeps:
	@for pair in $(SYSTEM_COMMANDS); do cmd=$${pair%%:*}; pkg=$${pair#*:}; \
	  command -v $$cmd >/dev/null || missing="$$missing $$pkg"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing) >/dev/null; fi

test: install sysdeps
	$(PY) -m pytest $(PYTEST_ARGS)

bench: install
	$(PY) benchmarks/generate_bench.py

clean:
	rm -rf intentmine-demo .pytest_cache test-artifacts
