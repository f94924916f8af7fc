#!/usr/bin/env bash
# Set up a development/demo environment from nothing but python3, then run a task.
#   packaging/dev.sh demo   - the demo hall (all roles, simulated devices, no central)
#   packaging/dev.sh test   - the whole test suite
#   packaging/dev.sh setup  - only install
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$here"
venv="$here/.venv"

debian_packages=(
  mosquitto xvfb xauth openbox fonts-noto-cjk libzbar0 socat espeak-ng sox alsa-utils postgresql
  fontconfig systemd xinit binutils x11-utils chromium dpkg-dev gpg gpgv
  libglib2.0-0 libegl1 libgl1 libxkbcommon0 libfontconfig1 libfreetype6 libdbus-1-3
  libxkbcommon-x11-0 libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 libxcb-image0
  libxcb-render-util0 libxcb-randr0 libxcb-shape0 libxcb-xkb1 libxcb-sync1
  libxcb-xfixes0 libxcb-shm0 libx11-xcb1 libxcb-util1
)

install_system_packages() {
  command -v dpkg-query >/dev/null 2>&1 || { echo "dev.sh: not a Debian system; install: ${debian_packages[*]}" >&2; return 0; }
  local missing=()
  for p in "${debian_packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" -ne 0 ]; then
    echo "dev.sh: missing Debian packages (run as root or install them): ${missing[*]}" >&2
    return 0
  fi
  echo "dev.sh: installing Debian packages: ${missing[*]}" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

install_python() {
  local stamp="$venv/.installed"
  if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv" || { echo "dev.sh: python3 -m venv failed (install python3-venv)" >&2; exit 1; }
  fi
  if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
    "$venv/bin/python" -m pip install -q --upgrade pip
    "$venv/bin/python" -m pip install -q -e ".[dev]"
    touch "$stamp"
  fi
}

setup() {
  install_system_packages
  install_python
}

task="${1:-demo}"
shift || true
case "$task" in
  setup) setup ;;
  test)
    setup
    export QT_QPA_PLATFORM=offscreen
    exec "$venv/bin/python" -m pytest "$@"
    ;;
  demo)
    setup
    if [ -n "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ]; then
      exec "$venv/bin/hall-agent" demo "$@"
    fi
    echo "dev.sh: no display here, so the demo hall runs without windows:" >&2
    echo "  1. a simulated hall day through the real queue and store (figures per service)" >&2
    echo "  2. the scripted visit on the real screens, saved as PNGs in demo-screenshots/" >&2
    "$venv/bin/hall-agent" demo --headless "$@"
    QT_QPA_PLATFORM=offscreen exec "$venv/bin/hall-agent" demo --screenshots demo-screenshots
    ;;
  *) echo "usage: packaging/dev.sh {demo|test|setup} [args]" >&2; exit 2 ;;
esac
