#!/usr/bin/env bash
# Sets everything up, then opens TL Studio on the bundled demo dataset.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/python main.py resources/demo "$@"
