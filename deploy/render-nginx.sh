#!/usr/bin/env bash
# Renders the chat backend's nginx site, the one way: for the dev stack (deploy/stack.sh) and for the package
# (postinst, and the admin after a change of chat.env). Installed as /usr/lib/chat/render-nginx.sh.
#
# usage: render-nginx.sh --package
#        render-nginx.sh --nginx-conf-dir DIR --site FILE --src DIR [--src DIR]... --chat-migrate EXE
#                        [--realtime-socket PATH]... [--main FILE] [--bench-dir DIR]
#
#   --nginx-conf-dir DIR  nginx's conf prefix (where its relative includes start): the snippets, the group files,
#                         cors_origins.map and realtime_upstream.conf go to DIR/chat/ (the site includes chat/*)
#   --site FILE           the rendered site (nginx/chat-site.conf.template): http-level maps, zones, upstreams, server
#   --src DIR             where the templates are: chat-site.conf.template, nginx.conf.template and *.conf
#                         (the repository's nginx/ and the build's nginx/, or /usr/share/chat/nginx)
#   --chat-migrate EXE    `EXE --print-cors` gives the allowed origins (BACKEND_CORS_ORIGINS as every program reads
#                         it: the environment, then CHAT_ENV_FILE)
#   --realtime-socket P   one `server unix:P;` line per chat-realtime daemon (none: /ws answers 502)
#   --main FILE           also a whole nginx.conf that includes the site (the dev stack: nginx.conf.template), with
#                         copies of /etc/nginx's mime.types and fastcgi_params beside it
#   --bench-dir DIR       the dev stack's loopback-only /_bench/ location serving DIR (make bench)
#   --package             the installed package: reads CHAT_ENV_FILE (default /etc/chat/chat.env), renders
#                         /etc/nginx/sites-available/chat and /etc/nginx/chat/, one realtime socket per port of
#                         REALTIME_PORTS (the chat-realtime@PORT units), listening on CHAT_LISTEN_ADDR:CHAT_HTTP_PORT
#                         (default 0.0.0.0:8080); then `nginx -t && systemctl reload nginx` applies it.
#                         CHAT_NGINX_DIR (default /etc/nginx) is nginx's conf dir.
#
# The template variables come from the environment: CHAT_LISTEN_ADDR CHAT_HTTP_PORT CHAT_SOCK_DIR CHAT_LOG_DIR
# CHAT_WWW_DIR RATE_LIMIT_AUTH RATE_LIMIT_AUTH_BURST, and for --main CHAT_NGINX_USER CHAT_PID_DIR
# CHAT_NGINX_TEMP_DIR. A missing one, or a ${NAME} left in a rendered file, is an error.
set -euo pipefail

die() { echo "render-nginx.sh: $*" >&2; exit 1; }

SITE_VARS=(CHAT_LISTEN_ADDR CHAT_HTTP_PORT CHAT_SOCK_DIR CHAT_LOG_DIR CHAT_WWW_DIR RATE_LIMIT_AUTH RATE_LIMIT_AUTH_BURST)
MAIN_VARS=(CHAT_NGINX_USER CHAT_PID_DIR CHAT_LOG_DIR CHAT_NGINX_TEMP_DIR CHAT_SITE_FILE)

CONF_DIR="" SITE="" MAIN="" MIGRATE="" BENCH="" PACKAGE=0
SRCS=() RT_SOCKETS=()

# The package's layout, relative to where this script is installed (PREFIX/lib/chat), and Debian's nginx.
package_defaults() {
  local here prefix f
  here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
  prefix=$(dirname "$(dirname "$here")")
  export CHAT_ENV_FILE=${CHAT_ENV_FILE:-/etc/chat/chat.env}
  f=$CHAT_ENV_FILE
  [[ -r $f ]] || die "cannot read $f (CHAT_ENV_FILE)"
  # chat.env is KEY=VALUE lines a shell reads (systemd's EnvironmentFile syntax); the environment wins, as in the
  # programs' own reader.
  local kv k
  while IFS= read -r -d '' kv; do
    k=${kv%%=*}
    [[ -v $k ]] || export "${kv?}"
  done < <(env -i bash -c 'set -a; . "$1" >/dev/null; env -0' _ "$f")
  CONF_DIR=${CHAT_NGINX_DIR:-/etc/nginx}       # another dir only for tests/nginx/site_check.sh
  SITE=$CONF_DIR/sites-available/chat
  SRCS=("$prefix/share/chat/nginx")
  MIGRATE=$here/chat-migrate
  : "${CHAT_LISTEN_ADDR:=0.0.0.0}" "${CHAT_HTTP_PORT:=8080}"
  export CHAT_LISTEN_ADDR CHAT_HTTP_PORT
  export CHAT_SOCK_DIR=/run/chat CHAT_LOG_DIR=/var/log/nginx CHAT_WWW_DIR=$prefix/share/chat/www
  # the values chat.env.example documents, should chat.env lack them (the handlers' defaults are the same)
  export RATE_LIMIT_AUTH=${RATE_LIMIT_AUTH:-5} RATE_LIMIT_AUTH_BURST=${RATE_LIMIT_AUTH_BURST:-20}
  local p ports
  IFS=', ' read -r -a ports <<<"${REALTIME_PORTS:-}"
  for p in "${ports[@]}"; do
    [[ $p =~ ^[1-9][0-9]{0,4}$ ]] || die "$f: REALTIME_PORTS: '$p' is not a port"
    # the socket of chat-realtime@PORT.service (RuntimeDirectory=chat-realtime-%i)
    RT_SOCKETS+=("/run/chat-realtime-$p/realtime.sock")
  done
}

while (($#)); do
  case $1 in
    --package) PACKAGE=1; shift ;;
    --nginx-conf-dir) CONF_DIR=${2:?}; shift 2 ;;
    --site) SITE=${2:?}; shift 2 ;;
    --main) MAIN=${2:?}; shift 2 ;;
    --src) SRCS+=("${2:?}"); shift 2 ;;
    --chat-migrate) MIGRATE=${2:?}; shift 2 ;;
    --realtime-socket) RT_SOCKETS+=("${2:?}"); shift 2 ;;
    --bench-dir) BENCH=${2:?}; shift 2 ;;
    *) die "unknown argument '$1' (see the header of $0)" ;;
  esac
done
((PACKAGE)) && package_defaults
[[ -n $CONF_DIR && -n $SITE && -n $MIGRATE && ${#SRCS[@]} -gt 0 ]] ||
  die "--nginx-conf-dir, --site, --src and --chat-migrate are needed (or --package)"

need() {
  local v
  for v in "$@"; do [[ -n ${!v:-} ]] || die "$v is not set"; done
}
need "${SITE_VARS[@]}"
[[ -z $MAIN ]] || { export CHAT_SITE_FILE=$SITE; need "${MAIN_VARS[@]}"; }

find_src() {                      # find_src NAME: the first --src dir's NAME
  local d
  for d in "${SRCS[@]}"; do [[ -f $d/$1 ]] && { echo "$d/$1"; return 0; }; done
  die "no $1 in ${SRCS[*]}"
}

# write FILE: stdin into FILE through a temporary file beside it (nginx never reads half a file)
write() { cat >"$1.tmp.$$" && mv -f "$1.tmp.$$" "$1"; }

# envsubst with the list of our names only: nginx's own $variables stay as they are
subst() {
  local names=("${SITE_VARS[@]}" "${MAIN_VARS[@]}")
  envsubst "${names[*]/#/$}" <"$1"
}

# A ${NAME} left outside a comment: a template uses a variable this script does not substitute.
check_rendered() {
  local f
  for f in "$@"; do
    if grep -nE '\$\{[A-Z_]+\}' "$f" | grep -v '^[0-9]*:[[:space:]]*#' >&2; then
      die "$f: a template variable render-nginx.sh does not substitute (above)"
    fi
  done
}

PIECES=$CONF_DIR/chat
mkdir -p "$PIECES"
rendered=()

# the snippets (nginx/chat-*.conf) and CMake's group files: the first --src dir that has a name wins
declare -A seen=()
for d in "${SRCS[@]}"; do
  for f in "$d"/chat-*.conf; do
    [[ -f $f ]] || continue
    n=${f##*/}
    [[ -v seen[$n] ]] && continue
    seen[$n]=1
    subst "$f" | write "$PIECES/$n"
    rendered+=("$PIECES/$n")
  done
done
for n in chat-group-upstreams.conf chat-group-locations.conf chat-headers.conf chat-fastcgi.conf; do
  [[ -v seen[$n] ]] || die "no $n in ${SRCS[*]}"
done

# CORS: each allowed origin is "*" or scheme://host[:port] (core's is_origin): nothing nginx would read as syntax
origins=$("$MIGRATE" --print-cors) || die "$MIGRATE --print-cors refused the settings (above)"
{
  echo "# generated by render-nginx.sh from BACKEND_CORS_ORIGINS (chat-migrate --print-cors)"
  while IFS= read -r o; do
    [[ -n $o ]] || continue
    if [[ $o == '*' ]]; then echo '"~." $http_origin;'; else echo "\"$o\" \$http_origin;"; fi
  done <<<"$origins"
} | write "$PIECES/cors_origins.map"

{
  echo "# generated by render-nginx.sh: one line per chat-realtime daemon"
  # nginx needs one server in an upstream: with no daemon /ws answers 502
  ((${#RT_SOCKETS[@]})) || echo "server 127.0.0.1:9 down;"
  for s in "${RT_SOCKETS[@]}"; do echo "server unix:$s;"; done
} | write "$PIECES/realtime_upstream.conf"

{
  echo "# generated by render-nginx.sh: locations only the dev stack has"
  if [[ -n $BENCH ]]; then
    # the benchmark's ceiling: nginx serving files itself, measured next to the API (make bench)
    printf 'location /_bench/ {\n    allow 127.0.0.1;\n    deny all;\n    alias %s/;\n}\n' "$BENCH"
    # and a FastCGI program answering the same bytes without PostgreSQL or Redis (tests/bench/fcgi_ceiling.cpp,
    # started by make bench on DIR/fcgi.sock), through the handlers' FastCGI settings
    printf 'location /_bench_fcgi/ {\n    allow 127.0.0.1;\n    deny all;\n    include chat/chat-fastcgi.conf;\n    fastcgi_pass unix:%s/fcgi.sock;\n}\n' "$BENCH"
  fi
} | write "$PIECES/local_locations.conf"

mkdir -p "$(dirname "$SITE")"
subst "$(find_src chat-site.conf.template)" | write "$SITE"
rendered+=("$SITE")
if [[ -n $MAIN ]]; then
  cp /etc/nginx/fastcgi_params /etc/nginx/mime.types "$CONF_DIR/"
  subst "$(find_src nginx.conf.template)" | write "$MAIN"
  rendered+=("$MAIN")
fi
check_rendered "${rendered[@]}"
