#!/usr/bin/env bash
# Open the built app's window on a virtual display and take a screenshot of it.
#
#   bash installer/check-window.sh [APP_FOLDER] [PNG]   # defaults: dist/tlstudio, docs/screenshots/installed-app.png
#
# Needs Xvfb and xdotool (Debian: xvfb xdotool); Qt's xcb plugin needs libxcb-cursor0,
# libxcb-icccm4 and libxcb-keysyms1. The app runs with no project environment on PATH or
# PYTHONPATH; the screenshot is grabbed with the project environment's Pillow.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
app="${1:-$root/dist/tlstudio}"
png="${2:-$root/docs/screenshots/installed-app.png}"
python="${PYTHON:-$root/.venv/bin/python}"
home="$(mktemp -d)"  # the window writes its settings there, not into the user's
display=":$(( 90 + RANDOM % 9 ))"

Xvfb "$display" -screen 0 1280x860x24 -nolisten tcp &
xvfb=$!
trap 'kill "$app_pid" 2>/dev/null || true; kill "$xvfb" 2>/dev/null || true; rm -rf "$home"' EXIT
sleep 1
started=$(date +%s.%N)
# Opened on the demo set it ships, as a first start from the menu would offer it.
env -i HOME="$home" PATH=/usr/bin:/bin DISPLAY="$display" "$app/tlstudio" "$app/_internal/resources/demo" \
    > /tmp/tlstudio-window.log 2>&1 &
app_pid=$!
if ! window=$(DISPLAY="$display" timeout 120 xdotool search --sync --onlyvisible --name "TL Studio" | head -1); then
    echo "check-window.sh: no TL Studio window appeared within 120 s; the app said:" >&2
    cat /tmp/tlstudio-window.log >&2
    exit 1
fi
shown=$(date +%s.%N)
DISPLAY="$display" xdotool windowsize "$window" 1200 800 windowmove "$window" 40 30
sleep 6  # let the first page finish painting (thumbnails of the demo set)
mkdir -p "$(dirname "$png")"
"$python" -c "import sys; from PIL import ImageGrab; ImageGrab.grab(xdisplay=sys.argv[1]).crop((40, 30, 1240, 830)).save(sys.argv[2])" \
    "$display" "$png"
printf 'Window "%s" shown %.1f s after start; screenshot %s\n' \
    "$(DISPLAY="$display" xdotool getwindowname "$window")" "$(echo "$shown - $started" | bc)" "$png"
