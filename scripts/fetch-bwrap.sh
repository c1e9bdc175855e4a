#!/usr/bin/env bash
# Cache bubblewrap (Debian's package) under .cache/tools/bin, once, so the runner's extra
# isolation layer and its tests run on machines that do not have bwrap installed.
# Needs: apt-get and dpkg-deb (Debian and derivatives). Elsewhere it says so and stops; the
# runner then reports itself as plain (not isolated) and the bwrap tests skip.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
BIN="${STEADFAST_TOOLS_DIR:-$ROOT/.cache/tools}/bin"

if [[ -x "$BIN/bwrap" ]] || command -v bwrap >/dev/null; then
    echo "bwrap already available"
    exit 0
fi
for tool in apt-get dpkg-deb; do
    if ! command -v "$tool" >/dev/null; then
        echo "note: $tool not found; not fetching bwrap (commands run without the bwrap layer)" >&2
        exit 0
    fi
done

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
chmod 0777 "$work"  # apt's download user writes here
(cd "$work" && apt-get download -q bubblewrap >/dev/null 2>&1)
deb="$(ls "$work"/bubblewrap_*.deb)"
dpkg-deb -x "$deb" "$work/x"
mkdir -p "$BIN"
install -m 0755 "$work/x/usr/bin/bwrap" "$BIN/bwrap"
"$BIN/bwrap" --version
echo "cached bwrap in $BIN"
