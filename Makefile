# fieldreport — `make demo` and `make test` work on a fresh machine: each creates .venv itself.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: demo test bench locale clean venv

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[hub,test]'
	touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	bash examples/demo.sh

test: $(STAMP)
	$(PY) -m pytest -q $(PYTEST_ARGS); rc=$$?; if [ $$rc -eq 5 ]; then echo 'pytest ran no tests: failure'; exit 1; fi; exit $$rc

bench: $(STAMP)
	$(PY) bench/add_bench.py

locale: $(STAMP)
	$(PY) scripts/i18n.py

clean:
	rm -rf $(VENV) build dist src/*.egg-info .pytest_cache
