# Balance Station — set-up and the two jobs of the README.
#   make demo   bootstrap, then run `station demo` on the virtual board
#   make test   bootstrap, then run the whole test suite
# Bootstrap = Debian packages (when run as root with apt-get) + a virtual environment in .venv.

PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin
DEB_PACKAGES = gcc gcc-avr avr-libc arduino-core-avr arduino-mk simavr libsimavr-dev libsimavrparts1 \
               libelf-dev pkg-config make poppler-utils libegl1 libgl1 libxkbcommon0 libfontconfig1 \
               libdbus-1-3 libglib2.0-0 python3-venv avrdude \
               xvfb x11-apps x11-utils xauth libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 libxcb-image0 \
               libxcb-render-util0 libxcb-randr0 libxcb-shape0 libxcb-xinerama0 libxcb-xkb1 libxcb-xfixes0 \
               libxcb-sync1 libxcb-shm0 libxkbcommon-x11-0 libx11-xcb1 \
               postgresql postgresql-contrib
PYTEST_ARGS ?=

.PHONY: demo test bootstrap deb venv firmware clean bench

demo: bootstrap
	$(BIN)/station demo $(DEMO_ARGS)

test: bootstrap
	$(BIN)/python -m pytest $(PYTEST_ARGS)

bootstrap: deb venv

# Debian packages: installed only when we are root and something is missing; otherwise the
# firmware tests skip and say which apt command would enable them.
deb:
	@if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  missing=$$(for p in $(DEB_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	  if [ -n "$$missing" ]; then \
	    echo "installing Debian packages: $$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	  fi; \
	else echo "not root: skipping Debian packages (firmware tests will skip)"; fi

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[gui,test]'
	touch $@

firmware:
	$(MAKE) -C hardware

bench: bootstrap
	for b in bench/*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV) build *.egg-info
