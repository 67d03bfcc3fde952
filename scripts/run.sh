#!/usr/bin/env bash
# Sets everything up, then opens TL Studio on the bundled demo dataset.
# On a machine without a display it runs the same workflow headless instead.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh

if [ "$(uname)" = "Linux" ] && [ -z "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ] && [ -z "${QT_QPA_PLATFORM:-}" ]; then
    echo "No display found (DISPLAY is not set): running the demo headless instead."
    out=$(mktemp -d)
    .venv/bin/tlstudio scan resources/demo
    .venv/bin/tlstudio train resources/demo --size 64 --epochs 1 --unfreeze 2 --keep-best --export "$out/demo.pkl"
    exec .venv/bin/tlstudio predict "$out/demo.pkl" resources/demo/bag/train_00023.png resources/demo/sneaker/train_00006.png
fi
if [ "$(uname)" = "Linux" ] && [ -n "${DISPLAY:-}" ]; then
    bash scripts/check_qt_libs.sh .venv/bin/python || true
fi
exec .venv/bin/python main.py resources/demo "$@"
