#!/usr/bin/env bash
# Install the built app for this user (no root needed), or remove what an install put there.
#
#   bash installer/install-linux.sh [APP_FOLDER]     # default: dist/tlstudio (from installer/build.sh)
#   bash installer/install-linux.sh --uninstall
#
# Puts the app folder at ~/.local/opt/tlstudio, a `tlstudio` link in ~/.local/bin, the desktop
# file in ~/.local/share/applications and the icons in ~/.local/share/icons/hicolor. Every path
# it writes is listed in ~/.local/opt/tlstudio.installed, and --uninstall removes exactly those
# (and the app folder it made), nothing else: the app's data (~/.local/share/tlstudio: models,
# settings) belongs to the user and stays.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
data="${XDG_DATA_HOME:-$HOME/.local/share}"
opt="$HOME/.local/opt/tlstudio"
bin="$HOME/.local/bin"
record="$HOME/.local/opt/tlstudio.installed"

refresh_caches() {
    command -v update-desktop-database >/dev/null && update-desktop-database -q "$data/applications" || true
    command -v gtk-update-icon-cache >/dev/null && gtk-update-icon-cache -q -t "$data/icons/hicolor" || true
}

uninstall() {
    if [[ ! -f "$record" ]]; then
        echo "install-linux.sh: nothing to remove: $record (the list of what was installed) is missing" >&2
        return 1
    fi
    while IFS= read -r path; do
        if [[ -L "$path" || -f "$path" ]]; then rm -f -- "$path"; fi
    done < "$record"
    [[ -d "$opt" ]] && rm -rf -- "$opt"
    rm -f -- "$record"
    refresh_caches
    echo "Removed TL Studio from $opt and its desktop entry; your data in $data/tlstudio is kept."
}

if [[ "${1:-}" == "--uninstall" ]]; then
    uninstall
    exit $?
fi

app="${1:-$root/dist/tlstudio}"
if [[ ! -x "$app/tlstudio" ]]; then
    echo "install-linux.sh: $app/tlstudio not found: build it first with 'bash installer/build.sh'" >&2
    exit 1
fi
if [[ -e "$opt" && ! -f "$record" ]]; then
    echo "install-linux.sh: $opt exists but was not installed by this script; move it away first" >&2
    exit 1
fi
[[ -f "$record" ]] && uninstall >/dev/null  # an update: the old version's files go first

mkdir -p "$(dirname "$opt")" "$bin" "$data/applications"
# Copy beside the target, then rename: a failed copy never leaves half an app at $opt.
rm -rf -- "$opt.partial"
cp -a "$app" "$opt.partial"
mv -- "$opt.partial" "$opt"

written=()
ln -sfn "$opt/tlstudio" "$bin/tlstudio"
written+=("$bin/tlstudio")
desktop="$data/applications/tlstudio.desktop"
sed "s|^Exec=tlstudio|Exec=$opt/tlstudio|; s|^TryExec=tlstudio|TryExec=$opt/tlstudio|" \
    "$root/resources/linux/tlstudio.desktop" > "$desktop.partial"
mv -- "$desktop.partial" "$desktop"
written+=("$desktop")
for png in "$root"/resources/icons/hicolor/*/apps/tlstudio.png; do
    size="$(basename "$(dirname "$(dirname "$png")")")"
    target="$data/icons/hicolor/$size/apps/tlstudio.png"
    mkdir -p "$(dirname "$target")"
    cp -- "$png" "$target"
    written+=("$target")
done
scalable="$data/icons/hicolor/scalable/apps/tlstudio.svg"
mkdir -p "$(dirname "$scalable")"
cp -- "$root/resources/icons/tlstudio.svg" "$scalable"
written+=("$scalable")
printf '%s\n' "${written[@]}" > "$record.partial"
mv -- "$record.partial" "$record"
refresh_caches
echo "Installed TL Studio in $opt; start it from the applications menu or as $bin/tlstudio"
