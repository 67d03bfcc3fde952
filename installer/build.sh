#!/usr/bin/env bash
# Build the one-folder app into dist/tlstudio/ and self-test it in a clean environment.
#
#   bash installer/build.sh [PYTHON]
#
# PYTHON is the project environment's interpreter (default: .venv/bin/python); the app is
# built from what that environment has installed. PyInstaller itself is a build tool, not a
# dependency of the app: it goes into installer/.build-tools (pip --target, reused on the next
# build) and is put on PYTHONPATH for the build only, so the project environment is not changed.
# TLSTUDIO_TRIM_CUDA=1 builds the smaller CPU-only folder (installer/README.md).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
python="${1:-$root/.venv/bin/python}"
tools="$here/.build-tools"
PYINSTALLER=("pyinstaller==6.22.3" "pyinstaller-hooks-contrib==2026.9" "altgraph==0.17.5")

if ! PYTHONPATH="$tools" "$python" -c "import PyInstaller" 2>/dev/null; then
    echo "Installing PyInstaller into $tools (build only)"
    # --no-deps: its other requirements (setuptools, packaging) come from the project environment,
    # so nothing on the build's PYTHONPATH shadows a package the app ships.
    "$python" -m pip install --quiet --no-deps --target "$tools" "${PYINSTALLER[@]}"
fi

started=$(date +%s)
cd "$root"
PYTHONPATH="$tools:$root" "$python" -m PyInstaller --noconfirm --log-level WARN \
    --distpath "$root/dist" --workpath "$root/build" "$here/tlstudio.spec"
built=$(date +%s)

app="$root/dist/tlstudio"
echo "Built $app in $((built - started)) s; $(du -sh "$app" | cut -f1) on disk"

# The self-test runs with none of the project environment on PATH or PYTHONPATH: it proves the
# folder holds everything it needs.
env -i HOME="$HOME" PATH=/usr/bin:/bin "$app/tlstudio" --selftest
