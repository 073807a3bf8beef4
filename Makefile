# The two commands: `make run` and `make test`. Everything else is a helper.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
ARGS   ?=
# Install steps print one line each; their output is in build/logs (tools/step.sh).
# Independent install steps (Python packages, the npm peers, checkov) run side by side.
MAKEFLAGS += --jobs=4
STEP   := tools/step.sh
PIP    := -m pip install --quiet --disable-pip-version-check

.PHONY: run test chat webchat playground lint format clean teams-package bench profile capacity nlu-bench language-bench report mutate mutate-again

run: $(VENV)/.runtime
	@$(BIN)/python app.py

PEERS := tests/peers
# checkov checks the ARM templates; it pins its own dependencies, so it has its own venv.
CHECKOV_VENV := .venv-checkov
CHECKOV := checkov==3.3.30

test: $(VENV)/.dev $(PEERS)/node_modules/.installed $(PEERS)/webchat/webchat.js /usr/bin/chromium \
      $(CHECKOV_VENV)/.installed
	@$(STEP) "Lint (ruff check)" ruff-check $(BIN)/ruff check .
	@$(STEP) "Format (ruff format --check)" ruff-format $(BIN)/ruff format --check .
	@LOG_LEVEL=ERROR STEP_SUMMARY="Passed checks" $(STEP) "ARM templates (checkov, offline)" \
	  checkov $(CHECKOV_VENV)/bin/checkov -d deploymentTemplates --framework arm \
	  --config-file deploymentTemplates/.checkov.yaml --compact --quiet --skip-download
	@$(BIN)/python -m pytest $(ARGS)

# Talk to a running bot over the Bot Framework protocol: make chat ARGS="--channel msteams"
chat: $(VENV)/.runtime
	@$(BIN)/python -m tools.chat $(ARGS)

# The real Web Chat against the local bot, offline: a local Direct Line, the bundle served by the bot.
webchat: $(VENV)/.runtime $(PEERS)/node_modules/.installed $(PEERS)/webchat/webchat.js
	@$(BIN)/python -m tools.try_channel webchat

# Teams as the Microsoft 365 Agents Playground shows it, against the local bot.
playground: $(VENV)/.runtime $(PEERS)/node_modules/.installed
	@$(BIN)/python -m tools.try_channel playground

# The order-status conversation under load, ours beside the samples' pattern:
# make bench ARGS="--users 20 --seconds 10" -> bench/results.json and bench/results.png
bench: $(VENV)/.bench $(PEERS)/node_modules/.installed
	$(BIN)/python -m bench.run $(ARGS)

# Where a turn's time goes, everything on: py-spy samples the bot under the bench's load.
profile: $(VENV)/.bench $(PEERS)/node_modules/.installed
	$(BIN)/python -m bench.profile $(ARGS)

# The capacity plan from the latest make bench: make capacity ARGS="--conversations 10000"
capacity: $(VENV)/.bench
	@$(BIN)/python -m bench.capacity $(ARGS)

# Mutation testing of the plain-Python core against the unit and dialog rings (pyproject.toml,
# [tool.mutmut]); incremental: a run stopped goes on where it was, and a second run tests only
# the functions changed since. Some modules again, after new tests: ARGS="'customers.*'".
# The kill ratio per module and every surviving mutant: build/mutation/report.md.
mutate: $(VENV)/.mutate
	NLU_CACHE_DIR=$(CURDIR)/build/nlu-cache $(BIN)/mutmut run --max-children $$(nproc) $(ARGS)
	@$(BIN)/python -m tools.mutation_report

# The survivors and untested mutants judged again, after new tests (mutmut keeps a verdict
# until the function changes).
mutate-again: $(VENV)/.mutate
	NLU_CACHE_DIR=$(CURDIR)/build/nlu-cache $(BIN)/mutmut run --max-children $$(nproc) \
	  $$($(BIN)/python -m tools.mutation_report --again)
	@$(BIN)/python -m tools.mutation_report

# Language detectors on the held-out messages in English, Spanish, German and French.
language-bench: $(VENV)/.bench
	@$(BIN)/python -m bench.language_id

# The intent classifier on CLINC150 (../shared/data), beside the paper's published figures.
nlu-bench: $(VENV)/.dev
	@$(BIN)/python -m bench.nlu_clinc $(ARGS)

# The analytics report: make report ARGS="--from 2026-11-01 --to 2026-11-24" -> build/report.html
report: $(VENV)/.runtime
	@$(BIN)/python -m analytics report $(ARGS)

# The Teams app to upload (manifest + icons), with MicrosoftAppId from .env or the environment.
teams-package: $(VENV)/.runtime
	$(BIN)/python -m tools.teams_package

lint: $(VENV)/.dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(VENV)/.dev
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache build mutants

$(VENV)/bin/python:
	@$(STEP) "Python virtual environment ($(VENV))" venv $(PYTHON) -m venv $(VENV)

$(VENV)/.runtime: requirements.txt | $(VENV)/bin/python
	@$(STEP) "Python packages (requirements.txt)" pip-runtime $(BIN)/python $(PIP) -r requirements.txt
	@touch $@

$(VENV)/.dev: requirements-dev.txt $(VENV)/.runtime
	@$(STEP) "Test tools (requirements-dev.txt)" pip-dev $(BIN)/python $(PIP) -r requirements-dev.txt
	@touch $@

# The third-party servers the tests run against (Cosmos DB API); patch-package patches them.
$(PEERS)/node_modules/.installed: $(PEERS)/package.json $(PEERS)/package-lock.json $(wildcard $(PEERS)/patches/*)
	@$(STEP) "Node peers (tests/peers, npm ci)" npm-peers \
	  sh -c 'cd $(PEERS) && npm ci --no-audit --no-fund --loglevel=error'
	@touch $@

# The real Web Chat: its self-contained bundle only (the full npm install is 533 MB).
# After npm ci, which empties the folder it packs in.
$(PEERS)/webchat/webchat.js: | $(PEERS)/node_modules/.installed
	@$(STEP) "Web Chat bundle (botframework-webchat 4.18.1)" webchat-bundle sh -c '\
	  cd $(PEERS) && npm pack botframework-webchat@4.18.1 --silent >/dev/null \
	  && tar -xzf botframework-webchat-4.18.1.tgz package/dist/webchat.js \
	  && mkdir -p webchat && mv package/dist/webchat.js webchat/ \
	  && rm -rf package botframework-webchat-4.18.1.tgz'

# Debian's Chromium for the browser tests (Playwright drives it; it never downloads a browser).
/usr/bin/chromium:
	@$(STEP) "Chromium (apt-get)" chromium sh -c \
	  'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium'

$(CHECKOV_VENV)/.installed:
	@$(STEP) "checkov ($(CHECKOV), own venv)" checkov-install sh -c \
	  '$(PYTHON) -m venv $(CHECKOV_VENV) && $(CHECKOV_VENV)/bin/python $(PIP) $(CHECKOV)'
	@touch $@

$(VENV)/.mutate: requirements-mutate.txt $(VENV)/.dev
	@$(STEP) "Mutation testing (requirements-mutate.txt)" pip-mutate \
	  $(BIN)/python $(PIP) -r requirements-mutate.txt
	@touch $@

$(VENV)/.bench: requirements-bench.txt $(VENV)/.dev
	@$(STEP) "Benchmark tools (requirements-bench.txt)" pip-bench \
	  $(BIN)/python $(PIP) -r requirements-bench.txt
	@touch $@
