#!/usr/bin/env bash
# CTest `systemd_units`: every unit `cmake --install` puts down passes `systemd-analyze verify`, as installed.
#
#   tests/systemd/verify_units.sh BUILD_DIR
#
# Installs the build into a scratch DESTDIR with its configured prefix (so a unit naming a program where the install
# does not put it fails), copies the host's own units beside ours (verify follows Requires=/After= into
# sysinit.target, sockets.target, ...) and runs `systemd-analyze verify --root=DESTDIR`, which needs no running
# systemd. Verified: chat.target, chat-handlers.target, chat-migrate.service, chat-worker.service, the socket and
# service of every handler group of chat-groups.txt, and chat-realtime@PORT for each port the generator derives from
# the installed chat.env. A missing systemd-analyze is a failure, not a skip.
set -euo pipefail
build=$(realpath "${1:?usage: verify_units.sh BUILD_DIR}")
command -v systemd-analyze >/dev/null || { echo "systemd-analyze missing (deploy/deps.sh installs systemd)" >&2; exit 1; }

root=$(mktemp -d /tmp/chat-units.XXXXXX)
trap 'rm -rf "$root"' EXIT
DESTDIR=$root cmake --install "$build" >/dev/null
prefix=$(sed -n 's/^CMAKE_INSTALL_PREFIX:PATH=//p' "$build/CMakeCache.txt")

unitdir=$(dirname "$(find "$root" -name chat.target -path '*/systemd/system/*' | head -n1)")
[[ -d $unitdir ]] || { echo "no chat.target installed under $root" >&2; exit 1; }
mkdir -p "$root/usr/lib/systemd/system"
cp -rn /lib/systemd/system/. "$root/usr/lib/systemd/system/"

# the generator, run as systemd would: it must want one chat-realtime@PORT per port of the installed chat.env
gen=$(find "$root" -path '*/system-generators/chat-realtime-generator' | head -n1)
[[ -x $gen ]] || { echo "chat-realtime-generator not installed" >&2; exit 1; }
env_file=$(sed -n 's/^env_file=//p' "$gen")
[[ $env_file == "$prefix"* || $env_file == /etc/* ]] || { echo "generator reads $env_file, outside the install" >&2; exit 1; }
out=$(mktemp -d "$root/gen.XXXXXX")
sed "s|^env_file=.*|env_file=$root$env_file|" "$gen" >"$out.sh"
sh "$out.sh" "$out" "$out" "$out"
ports=$(sed -n 's/^REALTIME_PORTS=//p' "$root$env_file" | tr ',' ' ')
realtime=()
for p in $ports; do
  link=$out/chat.target.wants/chat-realtime@$p.service
  [[ -L $link && $(readlink "$link") == "${unitdir#"$root"}/chat-realtime@.service" ]] ||
    { echo "the generator did not make chat.target want chat-realtime@$p.service (-> $unitdir)" >&2; exit 1; }
  realtime+=("chat-realtime@$p.service")
done
((${#realtime[@]})) || { echo "the installed chat.env sets no REALTIME_PORTS" >&2; exit 1; }

units=(chat.target chat-handlers.target chat-migrate.service chat-worker.service "${realtime[@]}")
groups=$(grep -v '^#' "$build/chat-groups.txt")
for g in $groups; do units+=("chat-handler@$g.socket" "chat-handler@$g.service"); done
# every unit file we install is one of those (or the templates they instantiate)
for f in "$unitdir"/chat*; do
  n=${f##*/}
  case $n in chat-handler@.service|chat-handler@.socket|chat-realtime@.service) continue ;; esac
  [[ " ${units[*]} " == *" $n "* ]] || { echo "installed unit $n is not verified here: add it" >&2; exit 1; }
done

if ! systemd-analyze verify --root="$root" "${units[@]}"; then
  echo "systemd-analyze verify failed for the units installed in $root (above)" >&2
  exit 1
fi
echo "systemd-analyze verify: ${#units[@]} units pass (${units[*]})"
