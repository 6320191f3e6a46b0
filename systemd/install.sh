#!/usr/bin/env bash
# Installs qhub from this checkout on a Raspberry Pi OS (Bookworm) machine, as root:
#   user qhub (groups dialout, audio, gpio when it exists), /opt/qhub (the built
#   program and its production dependencies), /etc/qhub (a config to edit, with
#   freshly generated secrets), /var/lib/qhub (the store, the voice pack),
#   /usr/local/bin/qhub, the systemd unit and a udev rules example; then starts it.
# Safe to run again (an upgrade): it never overwrites /etc/qhub or the udev rules
# you edited, and never regenerates secrets. docs/INSTALL.md explains each step.
#
# usage: sudo systemd/install.sh [--no-start] [--no-build] [--no-npm] [--root DIR]
#   --no-start  install and enable nothing in systemd (no daemon-reload/enable/restart)
#   --no-build  use the checkout's dist/ as it is (npm run build already done)
#   --no-npm    do not run "npm ci --omit=dev" in /opt/qhub (node_modules provided otherwise)
#   --root DIR  install under DIR instead of / (tests): the files are laid out and
#               used under DIR; users, groups and systemd are not touched, only
#               printed. DESTDIR=DIR in the environment means the same.
set -euo pipefail

SRC=$(cd "$(dirname "$0")/.." && pwd)
ROOT=${DESTDIR:-/}
START=1 BUILD=1 NPM=1
while [ $# -gt 0 ]; do
  case "$1" in
    --no-start) START=0 ;;
    --no-build) BUILD=0 ;;
    --no-npm) NPM=0 ;;
    --root) ROOT=${2:?--root needs a directory}; shift ;;
    --root=*) ROOT=${1#--root=} ;;
    -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
    *) echo "install.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done
ROOT=$(cd "$ROOT" && pwd)
R=${ROOT%/}            # prefix for every path; empty for the real root
REAL=0; [ -z "$R" ] && REAL=1
NODE=/usr/bin/node
say() { printf 'qhub install: %s\n' "$*"; }
would() { printf 'qhub install: (--root) would run: %s\n' "$*"; }

if [ "$REAL" = 1 ] && [ "$(id -u)" != 0 ]; then
  echo "install.sh: run it as root (sudo $0)" >&2; exit 1
fi

# 1. Node >= 20 at /usr/bin/node (the path the unit runs).
if [ ! -x "$NODE" ]; then
  cat >&2 <<EOF
install.sh: $NODE not found. qhub needs Node.js 20 or newer at $NODE.
  Raspberry Pi OS Bookworm's own package is Node 18 (Debian 12: nodejs 18.20), too old.
  Install Node 20 or 22 from NodeSource (docs/INSTALL.md, step 2), then run this again.
EOF
  exit 1
fi
NODE_MAJOR=$("$NODE" -p 'process.versions.node.split(".")[0]')
if [ "$NODE_MAJOR" -lt 20 ]; then
  cat >&2 <<EOF
install.sh: $NODE is Node $("$NODE" --version); qhub needs Node 20 or newer.
  Debian 12 / Raspberry Pi OS Bookworm ship nodejs 18.20. Remove it (apt-get remove nodejs)
  and install Node 20 or 22 from NodeSource (docs/INSTALL.md, step 2), then run this again.
EOF
  exit 1
fi
say "node $("$NODE" --version) at $NODE"

# 2. The service user and its groups (dialout: serial lines; audio: aplay; gpio: the Pi's pins).
GROUPS_WANTED="dialout audio"
getent group gpio >/dev/null && GROUPS_WANTED="$GROUPS_WANTED gpio"
if [ "$REAL" = 1 ]; then
  if ! getent passwd qhub >/dev/null; then
    useradd --system --user-group --home-dir /var/lib/qhub --no-create-home --shell /usr/sbin/nologin qhub
    say "user qhub created"
  fi
  for g in $GROUPS_WANTED; do usermod -aG "$g" qhub; done
  say "user qhub in groups: $(id -nG qhub)"
else
  would "useradd --system --user-group --home-dir /var/lib/qhub --no-create-home --shell /usr/sbin/nologin qhub"
  for g in $GROUPS_WANTED; do would "usermod -aG $g qhub"; done
fi
own() { # own MODE OWNER:GROUP PATH...
  local mode=$1 who=$2; shift 2
  chmod "$mode" "$@"
  if [ "$REAL" = 1 ]; then chown "$who" "$@"; fi
}

# 3. Build in the checkout (TypeScript to dist/), unless told it is done.
if [ "$BUILD" = 1 ]; then
  say "building in $SRC"
  ( cd "$SRC" && { [ -d node_modules ] || npm ci --no-audit --no-fund; } && npm run build )
fi
[ -f "$SRC/dist/daemon/cli.js" ] && [ -f "$SRC/dist/bundle/qhub.js" ] || { echo "install.sh: $SRC/dist is missing or incomplete (the unit starts dist/bundle/qhub.js): run npm ci && npm run build in $SRC (or drop --no-build)" >&2; exit 1; }

# 4. /opt/qhub: the program, replaced as a whole (dist, config examples, fonts, docs, unit).
OPT=$R/opt/qhub
install -d -m 0755 "$OPT"
for part in dist config assets docs systemd; do
  rm -rf "$OPT/$part.new"
  cp -R "$SRC/$part" "$OPT/$part.new"
  rm -rf "$OPT/$part"
  mv "$OPT/$part.new" "$OPT/$part"
done
install -m 0644 "$SRC/package.json" "$SRC/package-lock.json" "$SRC/README.md" "$OPT/"
chmod 0755 "$OPT/dist/daemon/cli.js" "$OPT/dist/bundle/qhub.js"
say "program in $OPT"

# 5. Production dependencies, only when the lock file changed since the last install.
LOCKSUM=$(sha256sum "$OPT/package-lock.json" | cut -d' ' -f1)
if [ "$NPM" = 1 ]; then
  if [ "$(cat "$OPT/.npm-installed" 2>/dev/null)" != "$LOCKSUM" ]; then
    say "npm ci --omit=dev in $OPT (native modules may build: needs python3, make, g++)"
    ( cd "$OPT" && npm ci --omit=dev --no-audit --no-fund )
    echo "$LOCKSUM" > "$OPT/.npm-installed"
  else
    say "dependencies in $OPT are current"
  fi
else
  say "--no-npm: not running npm ci --omit=dev in $OPT"
fi

# 6. /etc/qhub: a config to edit, with secrets generated here (never the published demo ones).
ETC=$R/etc/qhub
install -d -m 0750 "$ETC"
own 0750 root:qhub "$ETC"
if [ ! -e "$ETC/center.yaml" ]; then
  sed 's/^secrets: center\.example\.secrets\.yaml$/secrets: center.secrets.yaml/' "$SRC/config/center.example.yaml" > "$ETC/center.yaml"
  own 0640 root:qhub "$ETC/center.yaml"
  say "$ETC/center.yaml written from the example center: edit it for this center"
else
  say "$ETC/center.yaml kept"
fi
if [ ! -e "$ETC/center.secrets.yaml" ]; then
  # Every device of the example gets a new random secret (32 hex digits).
  "$NODE" -e '
    const { randomBytes } = require("node:crypto");
    const fs = require("node:fs");
    const ids = fs.readFileSync(process.argv[1], "utf8").split("\n").map((l) => /^([a-z0-9][a-z0-9_-]*):/.exec(l)?.[1]).filter(Boolean);
    const lines = ids.map((id) => `${id}: ${randomBytes(16).toString("hex")}`);
    fs.writeFileSync(process.argv[2], "# Device id -> secret, generated by install.sh. Give each device its own line.\n" + lines.join("\n") + "\n", { mode: 0o640 });
  ' "$SRC/config/center.example.secrets.yaml" "$ETC/center.secrets.yaml"
  own 0640 root:qhub "$ETC/center.secrets.yaml"
  say "$ETC/center.secrets.yaml: new random secrets for the example's devices"
fi
if [ ! -e "$ETC/secrets.env" ]; then
  printf '# Read by systemd (EnvironmentFile=) for secrets given as {env: NAME}.\nQHUB_SUPERVISOR_SECRET=%s\n' "$("$NODE" -p 'require("node:crypto").randomBytes(16).toString("hex")')" > "$ETC/secrets.env"
  own 0600 root:root "$ETC/secrets.env"
  say "$ETC/secrets.env: the supervisor's password (QHUB_SUPERVISOR_SECRET)"
fi

# 7. /var/lib/qhub: the store and the voice pack.
VAR=$R/var/lib/qhub
install -d -m 0750 "$VAR"
own 0750 qhub:qhub "$VAR"
if command -v espeak-ng >/dev/null 2>&1; then
  QHUB_DATA=$VAR "$NODE" "$OPT/dist/daemon/cli.js" voice pack --if-missing --config "$ETC/center.yaml" | sed 's/^/qhub install: /'
  [ "$REAL" = 1 ] && chown -R qhub:qhub "$VAR/voice"
else
  say "espeak-ng is not installed: no demo voice pack (apt-get install espeak-ng, then: sudo -u qhub qhub voice pack); calls are sent as text meanwhile"
fi

# 8. The qhub command on the PATH, with the installation's config and data directory.
install -d -m 0755 "$R/usr/local/bin"
cat > "$R/usr/local/bin/qhub.new" <<EOF
#!/bin/sh
# The qhub command (written by /opt/qhub/systemd/install.sh).
: "\${QHUB_CONFIG:=$R/etc/qhub/center.yaml}"
: "\${QHUB_DATA:=$R/var/lib/qhub}"
export QHUB_CONFIG QHUB_DATA
exec $NODE $OPT/dist/daemon/cli.js "\$@"
EOF
chmod 0755 "$R/usr/local/bin/qhub.new"
mv "$R/usr/local/bin/qhub.new" "$R/usr/local/bin/qhub"
say "$R/usr/local/bin/qhub"

# 9. The unit; gpio as a drop-in only where the group exists (a missing group fails the start: 216/GROUP).
UNITDIR=$R/etc/systemd/system
install -d -m 0755 "$UNITDIR"
install -m 0644 "$SRC/systemd/qhub.service" "$UNITDIR/qhub.service"
if getent group gpio >/dev/null; then
  install -d -m 0755 "$UNITDIR/qhub.service.d"
  printf '# Written by install.sh: the group gpio exists on this machine.\n[Service]\nSupplementaryGroups=gpio\n' > "$UNITDIR/qhub.service.d/gpio.conf"
  chmod 0644 "$UNITDIR/qhub.service.d/gpio.conf"
fi
# udev names for wired devices: an example, installed once (it is yours to edit).
install -d -m 0755 "$R/etc/udev/rules.d"
if [ ! -e "$R/etc/udev/rules.d/99-qhub-serial.rules" ]; then
  install -m 0644 "$SRC/systemd/99-qhub-serial.rules" "$R/etc/udev/rules.d/99-qhub-serial.rules"
  say "$R/etc/udev/rules.d/99-qhub-serial.rules: edit it with your devices' ids (docs/INSTALL.md)"
fi

# 10. Check the config, then start (or restart after an upgrade).
# (with secrets.env, as systemd gives it to the hub)
( set -a; . "$ETC/secrets.env"; set +a; QHUB_DATA=$VAR "$NODE" "$OPT/dist/daemon/cli.js" check-config "$ETC/center.yaml" ) 2>&1 | sed 's/^/qhub install: /'
if [ "$REAL" = 1 ] && [ "$START" = 1 ]; then
  udevadm control --reload-rules 2>/dev/null || true
  systemctl daemon-reload
  systemctl enable qhub
  systemctl restart qhub
  say "started: systemctl status qhub; logs: journalctl -u qhub -f -o cat"
else
  for c in "udevadm control --reload-rules" "systemctl daemon-reload" "systemctl enable qhub" "systemctl restart qhub"; do
    if [ "$REAL" = 1 ]; then say "--no-start: not running: $c"; else would "$c"; fi
  done
fi
