#!/usr/bin/env bash
# Install Debian's chromium and chromium-driver, once, for the console's browser tests
# (tests/console/test_browser.py). Chromium cannot be cached as one binary the way bwrap is
# (it needs its shared libraries), so this installs the packages when it may: as root with
# apt-get. Elsewhere it says so and stops; the browser tests then skip (and fail under
# STEADFAST_REQUIRE_TOOLS=1, as CI runs them).
set -euo pipefail

if [[ -x /usr/bin/chromium && -x /usr/bin/chromedriver ]]; then
    echo "chromium already available"
    exit 0
fi
if ! command -v apt-get >/dev/null; then
    echo "note: apt-get not found; not installing chromium (the browser tests skip)" >&2
    exit 0
fi
if [[ "$(id -u)" != 0 ]]; then
    echo "note: not root; not installing chromium (sudo apt-get install chromium chromium-driver)" >&2
    exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get install -y -q --no-install-recommends chromium chromium-driver >/dev/null \
    || { apt-get update -q >/dev/null && apt-get install -y -q --no-install-recommends \
        chromium chromium-driver >/dev/null; }
/usr/bin/chromium --version
