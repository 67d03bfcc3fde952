#!/usr/bin/env bash
# Names, in one line, every library Qt's X11 plugin links that this machine
# lacks, with the Debian/Ubuntu packages to install; silent when none is
# missing. Exit status 1 when some are missing.
#
# Qt's X11 plugin fails to load, with a vague message, when a library it links
# is missing; ldd on the plugin (and, through it, on its own dependencies)
# names every one. Package names follow the soname:
# libxcb-icccm.so.4 -> libxcb-icccm4, libxkbcommon-x11.so.0 -> libxkbcommon-x11-0.
# Usage: check_qt_libs.sh PYTHON   (the Python whose PySide6 is checked)
set -euo pipefail
python=${1:-python3}
command -v ldd >/dev/null || exit 0
plugin=$("$python" -c "import pathlib, PySide6; print(pathlib.Path(PySide6.__file__).parent / 'Qt/plugins/platforms/libqxcb.so')")
missing=$(ldd "$plugin" 2>/dev/null | awk '/not found/ {print $1}' | sort -u || true)
[ -z "$missing" ] && exit 0
packages=$(for lib in $missing; do
    stem=${lib%%.so*}; version=${lib##*.so.}; version=${version%%.*}
    case "$stem" in *[0-9]) echo "$stem-$version" ;; *) echo "$stem$version" ;; esac
done | tr 'A-Z' 'a-z' | sort -u | tr '\n' ' ')
echo "Qt's X11 support is missing $(echo $missing | sed 's/ /, /g'): install them (Debian/Ubuntu: sudo apt-get install ${packages% })." >&2
exit 1
