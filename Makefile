# twin: `make demo` and `make test` are the whole set-up on a fresh machine.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# Debian packages the viewer needs: offscreen OpenGL (EGL on Mesa's llvmpipe) and a
# virtual screen (Xvfb) for the desktop window; the MQTT broker (Mosquitto) for live sync;
# ecCodes for GRIB (see pyproject's 'weather').
DEBS := libegl1 libgl1 libegl-mesa0 libgl1-mesa-dri libglx-mesa0 libxrender1 xvfb mosquitto openssl libeccodes0
export VTK_DEFAULT_OPENGL_WINDOW ?= vtkEGLRenderWindow

.PHONY: demo test test-all lint bench clean

$(STAMP): pyproject.toml
	@dpkg -s $(DEBS) >/dev/null 2>&1 || { \
	  if command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(DEBS); \
	  else echo "twin: please install the Debian packages: $(DEBS)"; fi; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[viewer,city,weather,batch,factory,test]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/twin run scenes/merewether.py --out out/merewether --pictures
	$(BIN)/twin render out/merewether --quality cinematic --camera hero --out out/merewether/cinematic.png
	$(BIN)/twin render out/merewether --quality cinematic --camera street --time 600 --out out/merewether/cinematic_street.png
	$(BIN)/twin render out/merewether --quality high --camera hero --size 960x540 --frames 48 --fps 12 --out out/merewether/flood.mp4
	@echo "twin: the demo's results and pictures are in out/merewether/"

# In CI (CI=true) a test skipped for missing data or a missing service fails the run.
export TWIN_REQUIRE_DATA ?= $(if $(CI),1,)

lint: $(STAMP)
	$(BIN)/ruff check .

test: lint
	$(BIN)/python -m pytest -q -m "not slow"

test-all: lint
	$(BIN)/python -m pytest -q

bench: $(STAMP)
	$(BIN)/python benchmarks/flood_throughput.py
	$(BIN)/python benchmarks/import_city.py
	$(BIN)/python benchmarks/render_frames.py out/merewether
	$(BIN)/python benchmarks/robot_step.py --json benchmarks/results/robot_step_cpu.json
	$(BIN)/python benchmarks/mqtt_sync.py --json benchmarks/results/mqtt_sync.json
	$(BIN)/python benchmarks/nab_machine.py --json benchmarks/results/nab_machine.json
	$(BIN)/python benchmarks/dispersion_throughput.py

clean:
	rm -rf $(VENV) out .pytest_cache
