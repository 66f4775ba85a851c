#!/usr/bin/env bash
# Sets up everything backwatch needs to run its demo and tests on a Debian machine:
# a virtual environment in .venv with the package and its dev tools, and the Debian
# packages for Mosquitto, dbus-daemon and Chromium (the report tests render pages in it)
# when they are missing. Safe to run repeatedly.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$here"
venv="${BACKWATCH_VENV:-$here/.venv}"

say() { printf 'bootstrap: %s\n' "$*" >&2; }

pick_python() {
  for candidate in "${PYTHON:-}" python3 python3.13 python3.12 python3.11; do
    [ -n "$candidate" ] || continue
    command -v "$candidate" >/dev/null 2>&1 || continue
    if "$candidate" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' 2>/dev/null; then
      echo "$candidate"; return 0
    fi
  done
  return 1
}

have_binary() { command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ] || [ -x "/usr/bin/$1" ]; }

apt_install() {
  local packages=("$@")
  local runner=()
  if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
      runner=(sudo -n)
    else
      say "missing ${packages[*]}; install with: sudo apt-get install -y ${packages[*]}"
      exit 1
    fi
  fi
  if ! command -v apt-get >/dev/null 2>&1; then
    say "missing ${packages[*]} and no apt-get here; install them with your package manager"
    exit 1
  fi
  say "installing ${packages[*]} from Debian's packages"
  "${runner[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
  "${runner[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    "${packages[@]}" >/dev/null
}

missing=()
have_binary mosquitto || missing+=(mosquitto)
have_binary dbus-daemon || missing+=(dbus-daemon)
have_binary systemd-analyze || missing+=(systemd)  # the unit file's tests
have_binary openssl || missing+=(openssl)  # TLS tests make their own CA
have_binary chromium || missing+=(chromium)
if [ "${#missing[@]}" -gt 0 ]; then apt_install "${missing[@]}"; fi

python="$(pick_python)" || { say "Python 3.11 or newer is needed (set PYTHON=/path/to/python3.11)"; exit 1; }
if [ ! -x "$venv/bin/python" ]; then
  if ! "$python" -c 'import ensurepip, venv' 2>/dev/null; then
    apt_install python3-venv
  fi
  say "creating virtual environment $venv"
  "$python" -m venv "$venv"
fi

stamp="$venv/.backwatch-installed"
want="$(cat pyproject.toml | sha256sum | cut -d' ' -f1)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  say "installing backwatch and its development tools into $venv"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade 'pip>=25.1'
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -e . --group dev
  echo "$want" > "$stamp"
fi
