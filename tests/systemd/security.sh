#!/usr/bin/env bash
# Prints `systemd-analyze security` exposure of every chat unit of a running systemd, one line each, and fails when
# one is above the limit. Needs systemd as PID 1 (the container test runs it inside the booted container).
#
#   tests/systemd/security.sh [MAX_EXPOSURE]       (default 2.0: the units are at 1.1-1.2 today; systemd calls up to 3.9 "OK")
set -euo pipefail
max=${1:-2.0}
[[ -d /run/systemd/system ]] || { echo "security.sh: systemd is not running here" >&2; exit 1; }
mapfile -t units < <(systemctl list-units --all --plain --no-legend 'chat-*.service' | awk '{print $1}')
((${#units[@]})) || { echo "security.sh: no chat service loaded" >&2; exit 1; }
bad=0
for u in "${units[@]}"; do
  line=$(systemd-analyze security --no-pager "$u" | tail -n 1)      # "→ Overall exposure level for U: 1.9 OK 🙂"
  level=$(grep -oE '[0-9]+\.[0-9]+' <<<"$line" | tail -n 1)
  printf '%-36s %s\n' "$u" "${line#*: }"
  awk -v l="$level" -v m="$max" 'BEGIN { exit !(l > m) }' && bad=1
done
((bad == 0)) || { echo "security.sh: a unit's exposure is above $max" >&2; exit 1; }
