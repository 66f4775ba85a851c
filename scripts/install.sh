#!/usr/bin/env bash
# Installs backwatch as a service on a Raspberry Pi (or any Debian with systemd) from a clone:
#   - Debian packages it needs (python3-venv, bluez) when they are missing;
#   - a `backwatch` system user in the `bluetooth` group;
#   - a virtual environment in /opt/backwatch/venv with backwatch installed (not editable:
#     the clone may be deleted afterwards), and the docs in /opt/backwatch/docs;
#   - /etc/backwatch/backwatch.toml from config/backwatch.example.toml (never overwritten)
#     and an empty /etc/backwatch/mqtt-password (mode 0600) for the broker password;
#   - systemd/backwatch.service installed and enabled (started with --start).
# Safe to run again: it upgrades backwatch and the unit, and keeps your configuration.
#
# Usage: sudo scripts/install.sh [--dry-run] [--start]
#   --dry-run  print what would be done, change nothing (no root needed)
#   --start    (re)start the service at the end
# Paths can be moved for packaging or tests: BACKWATCH_PREFIX (/opt/backwatch),
# BACKWATCH_CONFIG_DIR (/etc/backwatch), BACKWATCH_UNIT_DIR (/etc/systemd/system).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
prefix="${BACKWATCH_PREFIX:-/opt/backwatch}"
config_dir="${BACKWATCH_CONFIG_DIR:-/etc/backwatch}"
unit_dir="${BACKWATCH_UNIT_DIR:-/etc/systemd/system}"
service_user=backwatch
dry_run=0
start=0

for arg in "$@"; do
  case "$arg" in
    --dry-run) dry_run=1 ;;
    --start) start=1 ;;
    -h|--help) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) printf 'install: unknown option %s (see --help)\n' "$arg" >&2; exit 64 ;;
  esac
done

say() { printf 'install: %s\n' "$*"; }
# Every change goes through `run`: printed, and done unless this is a dry run.
run() {
  if [ "$dry_run" -eq 1 ]; then
    printf 'would run: %s\n' "$*"
  else
    say "$*"
    "$@"
  fi
}

if [ "$dry_run" -eq 0 ] && [ "$(id -u)" -ne 0 ]; then
  say "run as root: sudo $0 $*  (or --dry-run to see what it would do)"
  exit 1
fi
[ -f "$here/pyproject.toml" ] || { say "not a backwatch clone: $here"; exit 1; }

pick_python() {
  # The system's Python first: a service must not depend on someone's pyenv or conda.
  for candidate in /usr/bin/python3 python3 python3.13 python3.12 python3.11; do
    command -v "$candidate" >/dev/null 2>&1 || continue
    if "$candidate" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)'; then
      command -v "$candidate"; return 0
    fi
  done
  return 1
}

# 1. Debian packages.
packages=()
python="$(pick_python)" || { say "Python 3.11 or newer is needed (Raspberry Pi OS Bookworm has 3.11)"; exit 1; }
"$python" -c 'import ensurepip, venv' 2>/dev/null || packages+=(python3-venv)
command -v bluetoothctl >/dev/null 2>&1 || packages+=(bluez)
if [ "${#packages[@]}" -gt 0 ]; then
  run env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  run env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${packages[@]}"
fi

if command -v bluetoothctl >/dev/null 2>&1; then
  bluez="$(bluetoothctl --version 2>/dev/null | grep -oE '[0-9]+\.[0-9]+' | head -n1 || true)"
  if [ -n "$bluez" ] && [ "$(printf '%s\n5.55\n' "$bluez" | sort -V | head -n1)" != "5.55" ]; then
    say "warning: BlueZ $bluez is older than 5.55, which bleak needs; upgrade the OS (Bookworm has 5.66)"
  fi
fi

# 2. The service user, in the group BlueZ's D-Bus policy lets talk to org.bluez.
getent group bluetooth >/dev/null || run groupadd --system bluetooth
if ! id -u "$service_user" >/dev/null 2>&1; then
  run useradd --system --user-group --groups bluetooth --home-dir /var/lib/backwatch \
    --no-create-home --shell /usr/sbin/nologin --comment "backwatch daemon" "$service_user"
elif ! id -nG "$service_user" | tr ' ' '\n' | grep -qx bluetooth; then
  run usermod --append --groups bluetooth "$service_user"
else
  say "user $service_user exists and is in group bluetooth"
fi

# 3. The virtual environment and backwatch in it (upgraded on every run).
if [ ! -x "$prefix/venv/bin/python" ]; then
  run install -d -m 0755 "$prefix"
  run "$python" -m venv "$prefix/venv"
fi
run "$prefix/venv/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip
run "$prefix/venv/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade "$here"
run install -d -m 0755 "$prefix/docs"
run cp -r "$here/docs/." "$here/README.md" "$prefix/docs/"

# 4. Configuration skeleton (yours once it exists: never overwritten).
run install -d -m 0755 "$config_dir"
if [ -e "$config_dir/backwatch.toml" ]; then
  say "keeping $config_dir/backwatch.toml (the newest example is $prefix/docs/backwatch.example.toml)"
else
  run install -m 0640 -o root -g "$service_user" "$here/config/backwatch.example.toml" \
    "$config_dir/backwatch.toml"
fi
run install -m 0644 "$here/config/backwatch.example.toml" "$prefix/docs/backwatch.example.toml"
if [ -e "$config_dir/mqtt-password" ]; then
  say "keeping $config_dir/mqtt-password"
else
  # systemd hands it to the service as a credential (LoadCredential=); empty = no password.
  run install -m 0600 -o root -g root /dev/null "$config_dir/mqtt-password"
fi

# 5. The unit, enabled (its paths follow BACKWATCH_PREFIX and BACKWATCH_CONFIG_DIR).
unit_source="$here/systemd/backwatch.service"
if [ "$prefix" != /opt/backwatch ] || [ "$config_dir" != /etc/backwatch ]; then
  unit_source="$(mktemp --suffix=.service)"
  trap 'rm -f "$unit_source"' EXIT
  sed -e "s#/opt/backwatch#$prefix#g" -e "s#/etc/backwatch#$config_dir#g" \
    "$here/systemd/backwatch.service" >"$unit_source"
fi
run install -m 0644 "$unit_source" "$unit_dir/backwatch.service"
run systemctl daemon-reload
run systemctl enable backwatch.service
if [ "$start" -eq 1 ]; then
  run systemctl restart backwatch.service
fi

cat <<EOF

Next:
  1. Edit $config_dir/backwatch.toml: broker (mqtt.host, tls, ca_file), your wearers and
     sensors (\`$prefix/venv/bin/backwatch scan\` lists nearby ones).
  2. Put the broker password, if any, in $config_dir/mqtt-password (root-only file).
  3. Check: sudo -u $service_user $prefix/venv/bin/backwatch check-config --config $config_dir/backwatch.toml
  4. Start: sudo systemctl restart backwatch; watch: journalctl -u backwatch -f
EOF
