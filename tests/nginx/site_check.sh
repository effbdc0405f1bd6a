#!/usr/bin/env bash
# CTest `nginx_site`: the package's site, rendered by the installed render-nginx.sh --package as postinst does, is
# accepted by nginx inside Debian's own /etc/nginx/nginx.conf (whose http block already sets sendfile, mime types, access_log, ...:
# a directive of the site that repeats one of them would be refused there, and nowhere in the dev stack).
#
#   tests/nginx/site_check.sh BUILD_DIR
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd -P)
build=$(realpath "${1:?usage: site_check.sh BUILD_DIR}")
command -v nginx >/dev/null || PATH=$PATH:/usr/sbin
command -v nginx >/dev/null || { echo "nginx missing (deploy/deps.sh installs it)" >&2; exit 1; }
[[ -f /etc/nginx/nginx.conf ]] || { echo "no /etc/nginx/nginx.conf (Debian's nginx)" >&2; exit 1; }

tmp=$(mktemp -d /tmp/chat-site.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
# Debian's nginx.conf with its absolute /etc/nginx paths moved into the scratch dir, its own sites left out
cp -r /etc/nginx/mime.types /etc/nginx/fastcgi_params "$tmp/"
mkdir -p "$tmp/sites-enabled" "$tmp/conf.d" "$tmp/modules-enabled" "$tmp/logs" "$tmp/run"
sed -e "s|/etc/nginx/|$tmp/|g" -e "s|/var/log/nginx/|$tmp/logs/|g" -e "s|^pid .*|pid $tmp/run/nginx.pid;|" /etc/nginx/nginx.conf >"$tmp/nginx.conf"
printf 'CHAT_HTTP_PORT=8080\nBACKEND_CORS_ORIGINS=https://chat.example.com,http://localhost:3000\nREALTIME_PORTS=9001,9002\n' >"$tmp/chat.env"

# the installed script in --package mode, as postinst runs it (its paths are those of the install)
install_root=$tmp/root
DESTDIR=$install_root cmake --install "$build" >/dev/null
render=$(find "$install_root" -path '*/lib/chat/render-nginx.sh' | head -n1)
[[ -x $render ]] || { echo "render-nginx.sh not installed" >&2; exit 1; }
CHAT_ENV_FILE=$tmp/chat.env CHAT_NGINX_DIR=$tmp "$render" --package
sed -i "s|/var/log/nginx/|$tmp/logs/|" "$tmp/sites-available/chat"   # nginx -t opens the log files
ln -s ../sites-available/chat "$tmp/sites-enabled/chat"

grep -qx '"https://chat.example.com" $http_origin;' "$tmp/chat/cors_origins.map" &&
  grep -qx '"http://localhost:3000" $http_origin;' "$tmp/chat/cors_origins.map" ||
  { echo "cors_origins.map lacks the origins of BACKEND_CORS_ORIGINS:" >&2; cat "$tmp/chat/cors_origins.map" >&2; exit 1; }
[[ $(grep -c '^server unix:/run/chat-realtime-900[12]/realtime.sock;$' "$tmp/chat/realtime_upstream.conf") == 2 ]] ||
  { echo "realtime_upstream.conf lacks a daemon:" >&2; cat "$tmp/chat/realtime_upstream.conf" >&2; exit 1; }
! grep -q _bench "$tmp/chat/local_locations.conf" || { echo "the package's site has the dev stack's /_bench/" >&2; exit 1; }

if ! out=$(nginx -t -p "$tmp/" -c "$tmp/nginx.conf" -e "$tmp/logs/error.log" 2>&1); then
  echo "nginx -t refuses the chat site inside Debian's nginx.conf:" >&2
  echo "$out" >&2
  exit 1
fi
echo "nginx site: accepted inside Debian's nginx.conf (2 realtime daemons, 2 origins)"
