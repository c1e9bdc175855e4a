#!/usr/bin/env bash
# Run a command with N CPU-burning processes beside it, as on a busy laptop or CI runner:
#
#     scripts/cpu-burn.sh 2 make test PYTEST_ARGS='-m slow'
#     scripts/cpu-burn.sh 2 make demo
#
# The tests must pass like this: they wait for events with ceilings that only catch hangs, and
# timing goals are measured in bench/, not asserted. The burners are plain busy loops (no
# privileges, nothing to install) and are killed when the command ends, however it ends.
# Exit status: the command's.
set -euo pipefail

if [[ $# -lt 2 || ! "$1" =~ ^[0-9]+$ ]]; then
    echo "usage: $0 N COMMAND [ARGS...]   (N busy-loop processes beside COMMAND)" >&2
    exit 2
fi
n="$1"
shift

burners=()
stop() {
    if ((${#burners[@]})); then
        kill "${burners[@]}" 2>/dev/null || true
        wait "${burners[@]}" 2>/dev/null || true
    fi
}
trap stop EXIT INT TERM

for _ in $(seq "$n"); do
    bash -c 'while :; do :; done' &
    burners+=("$!")
done
echo "cpu-burn: $n busy loops (pids ${burners[*]}) beside: $*" >&2
status=0
"$@" || status=$?
exit "$status"
