#!/usr/bin/env bash
# Dev stack of the chat backend in one run dir, under supervisord: make run/up/down/status, tests, benchmarks.
#
# usage: deploy/stack.sh up|down|run|status|env|migrate|setup-db|ctl ARGS...
#   up       start everything; prints "chat stack ready: http://ADDR:PORT" when /health answers 200
#   down     stop everything of this run dir (idempotent, also for a half-started or crashed stack)
#   run      up, follow every log in the foreground, down on Ctrl-C / SIGTERM / exit (wherever the output goes)
#   status   one line per program; exit 0 when all are running, 3 otherwise
#   env      print the path of chat.env (the environment every program of the stack gets)
#   migrate  run chat-migrate against the running stack
#   setup-db PSQL-ARGS...  the roles chat_owner, chat_app and the database chat on a PostgreSQL cluster that psql
#            reaches with PSQL-ARGS as its superuser (e.g. `setup-db -h 10.77.0.11 -U postgres`): what `up` does to
#            its own cluster, for a database host of the external mode
#   ctl      supervisorctl of this stack (e.g. `ctl status`, `ctl pid chat-worker:chat-worker-1`)
#
# Every program (PostgreSQL, Redis, the FastCGI handler groups, the realtime daemons, the workers, nginx) runs
# under the stack's own supervisord (Debian's `supervisor`), as systemd's units do in production: one that dies
# is started again, with a growing delay when it keeps dying, and the handler groups keep their listening
# socket meanwhile (supervisord's fcgi-program passes it on fd 0, as a systemd socket unit does).
#
# Settings (environment, then <repo>/.env; the environment wins): CHAT_RUN_DIR, CHAT_HTTP_PORT, CHAT_BUILD_DIR,
# BACKEND_CORS_ORIGINS, JWT_SECRET_KEY/SECRET_KEY, ENVIRONMENT, ACCESS_TOKEN_EXPIRE_MINUTES, RATE_LIMIT_AUTH(_BURST),
# RATE_LIMIT_SEND(_BURST), HANDLER_PROCS, HANDLER_THREADS, WORKER_PROCS, REALTIME_PROCS, LOG_LEVEL,
# CHAT_PG_DURABLE=0 (fsync off: benchmarks only, a crash loses acknowledged writes). chat.env gets
# REALTIME_PORTS=p1,p2,...: each chat-realtime daemon's own port; WORKER_METRICS_PORTS=p1,...: each chat-worker's
# /metrics port (chat-worker-N has the Nth, as its WORKER_METRICS_PORT). CHAT_HTTP_ADDR (default 127.0.0.1): the
# address nginx listens on.
#
# External services (CHAT_EXTERNAL_SERVICES=1): an application host of a cluster (tests/cluster). PostgreSQL and
# Redis are elsewhere and already set up (`setup-db` on the database host): the stack starts neither, makes no
# database, and takes DATABASE_URL, MIGRATE_DATABASE_URL, DATABASE_REPLICA_URL, REDIS_URL, REDIS_SENTINELS,
# REDIS_MASTER_NAME, REDIS_WAIT_REPLICAS and REDIS_WAIT_MS from the environment as they are (DATABASE_URL and
# REDIS_URL are required). Migrations run only with CHAT_MIGRATE=1 (one host of the cluster does them, once), and
# need MIGRATE_DATABASE_URL. JWT_SECRET_KEY must be the same on every host (a token from one is checked by the
# others), so it is required too.
set -euo pipefail

PATH=$PATH:/usr/sbin:/sbin         # nginx lives in /usr/sbin
REPO_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
PGBIN=/usr/lib/postgresql/15/bin
PG_PORT=5432                      # unix socket only (in $RUN/pgsock): the number never collides with anything
PG_SUPER=postgres                 # the cluster's superuser: set-up only (the programs are chat_owner, chat_app)
STOP_WAIT=30                      # seconds supervisord gets to stop everything before what is left is killed

# ------------------------------------------------------------------------------------------------
# settings

load_dotenv() {                   # <repo>/.env, without overriding what the environment already has
  local f=$REPO_DIR/.env kv k
  [[ -f $f ]] || return 0
  # shellcheck disable=SC1090
  while IFS= read -r -d '' kv; do
    k=${kv%%=*}
    [[ $k =~ ^[A-Za-z_][A-Za-z0-9_]*$ ]] || continue
    [[ -v $k ]] && continue
    export "${kv?}"
  done < <(set -a; . "$f" >/dev/null; env -0)
}
load_dotenv

die() { echo "stack.sh: $*" >&2; exit 1; }

CALLER_BUILD=${CHAT_BUILD_DIR:-}
RUN=$(realpath -m "${CHAT_RUN_DIR:-$REPO_DIR/.run}")
BUILD=$(realpath -m "${CHAT_BUILD_DIR:-$REPO_DIR/build}")
PORT=${CHAT_HTTP_PORT:-8080}
ADDR=${CHAT_HTTP_ADDR:-127.0.0.1}
EXTERNAL=${CHAT_EXTERNAL_SERVICES:-0}
ENV_FILE=$RUN/chat.env
LOGS=$RUN/logs
PIDS=$RUN/pids
SOCKS=$RUN/sock
REDIS_SOCK=$RUN/redis/redis.sock
NGINX_PREFIX=$RUN/nginx

IS_ROOT=0
[[ $(id -u) == 0 ]] && IS_ROOT=1
SUP_CONF=$RUN/supervisord.conf
SUP_SOCK=$RUN/supervisor.sock
SUP_PID=$PIDS/supervisord.pid
STACK_LOG=$LOGS/stack.log

# say: a progress line on the caller's output. Never fatal: under `make run | tee`, Ctrl-C kills tee first,
# and a write to the dead pipe must not stop the script before it has stopped the stack.
say() { printf '%s\n' "$*" || true; }
warn() { printf 'stack.sh: %s\n' "$*" >&2 || true; }

# ------------------------------------------------------------------------------------------------
# processes

# pid_alive PID: the process exists and is not a zombie (reparented children linger as Z until PID 1 reaps them).
pid_alive() {
  local stat
  [[ $1 =~ ^[0-9]+$ ]] && kill -0 "$1" 2>/dev/null || return 1
  { read -r stat <"/proc/$1/stat"; } 2>/dev/null || return 1
  stat=${stat##*) }
  [[ ${stat:0:1} != Z ]]
}

# pid_ours PID: alive and part of this stack: supervisord itself (its command line names this run dir) or a
# process it started (supervisord puts SUPERVISOR_SERVER_URL=unix://<this stack's socket> in their
# environment; PostgreSQL's backends inherit it). A stale pid never makes us signal someone else's process.
pid_ours() {
  pid_alive "$1" || return 1
  tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null | grep -qF -- "$RUN/supervisord.conf" && return 0
  grep -qzxF -- "SUPERVISOR_SERVER_URL=unix://$SUP_SOCK" "/proc/$1/environ" 2>/dev/null
}

# wait_gone SECONDS PID...: 0 when every pid is dead in time
wait_gone() {
  local secs=$1 i p left; shift
  for ((i = 0; i < secs * 10; i++)); do
    left=0
    for p in "$@"; do pid_alive "$p" && left=1; done
    ((left)) || return 0
    sleep 0.1
  done
  return 1
}

# stack_pids: every live process of this stack but ourselves and our ancestors
stack_pids() {
  local f p skip=" $$ " q=$$ stat
  while [[ $q =~ ^[0-9]+$ ]] && ((q > 1)); do
    { read -r stat <"/proc/$q/stat"; } 2>/dev/null || break
    stat=${stat##*) }
    read -r _ q _ <<<"$stat"
    skip+="$q "
  done
  for f in /proc/[0-9]*; do
    p=${f#/proc/}
    [[ $skip == *" $p "* ]] && continue
    pid_ours "$p" && echo "$p"
  done
  return 0
}

as_pg() {                         # run a PostgreSQL binary as the postgres OS user when root (it refuses root)
  if ((IS_ROOT)); then
    (cd "$RUN" && setpriv --reuid=postgres --regid=postgres --init-groups -- "$@")
  else
    (cd "$RUN" && "$@")
  fi
}

ctl() { supervisorctl -c "$SUP_CONF" "$@"; }

supervisor_pid() { local p; p=$(head -n1 "$SUP_PID" 2>/dev/null || true); [[ -n $p ]] && pid_ours "$p" && echo "$p"; }

stack_running() { [[ -n $(supervisor_pid) ]]; }

# free_port: a TCP port on 127.0.0.1 nobody listens on, below the kernel's ephemeral range
free_port() {
  local lo p i
  read -r lo _ </proc/sys/net/ipv4/ip_local_port_range
  ((lo > 20000)) || lo=32768
  for ((i = 0; i < 200; i++)); do
    p=$((20000 + (RANDOM * 32768 + RANDOM) % (lo - 20000)))
    [[ -z $(ss -Hltn "sport = :$p") ]] && { echo "$p"; return 0; }
  done
  die "free_port: no free TCP port found"
}

# ------------------------------------------------------------------------------------------------
# up

STEP="" STEP_LOG="" UP_DONE=0

# fail STEP LOG MESSAGE: report, show the log's tail; the EXIT trap of `up` then stops what was started
fail() {
  STEP=$1 STEP_LOG=$2
  warn "step '$1' failed: $3"
  exit 1
}

declare -A LOG_START=()           # log sizes when `up` began: failures show only what this run wrote

mark_logs() {
  local f
  for f in "$LOGS"/*.log; do [[ -f $f ]] && LOG_START[$f]=$(stat -c %s "$f"); done
  return 0
}

show_tail() {
  local f out
  for f in "$@"; do
    [[ -s $f ]] || continue
    out=$(tail -c +$((${LOG_START[$f]:-0} + 1)) "$f" | tail -n 30)
    [[ -n $out ]] || continue
    printf '%s\n%s\n' "----- tail of $f -----" "$out" >&2 || true
  done
}

on_up_exit() {
  local rc=$?
  ((UP_DONE)) && return 0
  trap - EXIT INT TERM
  warn "up failed during step '${STEP:-?}' (exit $rc); stopping what was started"
  if [[ -n $STEP_LOG ]]; then show_tail "$STEP_LOG"; else show_tail "$LOGS"/*.log; fi
  do_down >/dev/null 2>&1 || true
  exit 1
}

lock_run_dir() {
  exec 9>"$RUN/.stack.lock"
  flock -w 120 9 || die "another stack.sh is working on $RUN (lock $RUN/.stack.lock)"
}

env_value() {                     # env_value KEY: a value from chat.env (quotes stripped)
  [[ -f $ENV_FILE ]] || return 0
  sed -n "s/^$1=//p" "$ENV_FILE" | tail -n1 | sed -e "s/^'\(.*\)'\$/\1/"
}
env_addr() { local a; a=$(env_value CHAT_HTTP_ADDR); echo "${a:-127.0.0.1}"; }   # chat.env of older stacks lacks it

# read_groups: HANDLERS=(the FastCGI handler groups), as CMake wrote them from handlers/groups.cmake into the build
# (the one list of them); chat-NAME listens on $RUN/sock/NAME.sock behind nginx's upstream chat_NAME, which the
# build's nginx/chat-group-*.conf define.
read_groups() {
  local f=$BUILD/chat-groups.txt line
  [[ -f $f ]] || die "missing $f, the list of handler groups CMake writes (build first: make; or set CHAT_BUILD_DIR)"
  HANDLERS=()
  while IFS= read -r line; do
    [[ -z $line || $line == '#'* ]] && continue
    [[ $line =~ ^[a-z]+$ ]] || die "$f: '$line' is not a handler group name (rebuild: make)"
    HANDLERS+=("$line")
  done <"$f"
  ((${#HANDLERS[@]})) || die "$f lists no handler group (rebuild: make)"
  for f in chat-group-upstreams.conf chat-group-locations.conf; do
    [[ -f $BUILD/nginx/$f ]] || die "missing $BUILD/nginx/$f, written by CMake (build first: make; or set CHAT_BUILD_DIR)"
  done
}

check_int() { [[ ${!1} =~ ^[1-9][0-9]*$ ]] || die "$1 must be a positive integer (got '${!1}')"; }

# BACKEND_CORS_ORIGINS (JSON list, comma list or *; unset: core's default) is parsed by core/config.cpp alone:
# `chat-migrate --print-cors` prints the origins the programs allow, one a line, or refuses every invalid setting it
# finds, naming each variable (status 2). Sets CORS_ORIGINS (array) and CORS_NORMALIZED (chat.env's value: a comma
# list, [] for none). The stack's own URLs are left out of the check: chat.env replaces them.
read_cors_origins() {
  local out
  out=$(env -u DATABASE_URL -u MIGRATE_DATABASE_URL -u REDIS_URL CHAT_ENV_FILE=/dev/null \
    "$BUILD/chat-migrate" --print-cors 2>&1 9>&-) || die "the settings are refused (chat-migrate --print-cors): ${out#chat-migrate: }"
  CORS_ORIGINS=()
  [[ -n $out ]] && mapfile -t CORS_ORIGINS <<<"$out"
  CORS_NORMALIZED=$(IFS=,; echo "${CORS_ORIGINS[*]}")
  [[ -n $CORS_NORMALIZED ]] || CORS_NORMALIZED='[]'
}

env_line() {                      # KEY=VALUE, single-quoted only when the shell needs it (e.g. & in a URL)
  local k=$1 v=$2
  [[ $v == *$'\n'* || $v == *"'"* ]] && die "$k must not contain newlines or single quotes"
  if [[ $v =~ ^[A-Za-z0-9_./:@%+=,*-]*$ ]]; then echo "$k=$v"; else echo "$k='$v'"; fi
}

# fail if some directory above PATH is not traversable by USER (postgres, nginx's nobody)
check_traversable() {
  local user=$1 group=$2 path=$3 d
  setpriv --reuid="$user" --regid="$group" --init-groups -- test -x "$path" && return 0
  d=$path
  while [[ $d != / ]]; do
    d=$(dirname "$d")
    if ! setpriv --reuid="$user" --regid="$group" --init-groups -- test -x "$d"; then
      die "the $user user cannot traverse $d (needed for $path): chmod o+x it or choose another CHAT_RUN_DIR"
    fi
  done
  die "the $user user cannot traverse $path"
}

# up [foreground]: with "foreground", supervisord runs as our child in our process group (make run: a Ctrl-C
# reaches it too, and it stops every program itself, whatever happens to this script's output).
cmd_up() {
  local mode=${1:-}
  [[ $RUN =~ ^/[A-Za-z0-9_./+-]+$ ]] || die "CHAT_RUN_DIR '$RUN' may only contain letters, digits and _ . / + -"
  ((${#RUN} <= 75)) || die "CHAT_RUN_DIR '$RUN' is too long for unix socket paths (max 75 characters)"
  mkdir -p "$RUN"
  chmod 755 "$RUN"
  lock_run_dir

  if stack_running; then
    say "chat stack already running at http://$(env_addr):$(env_value CHAT_HTTP_PORT) (run dir $RUN)"
    return 0
  fi

  # ---- settings and preconditions: checked before anything starts
  read_groups
  [[ $PORT =~ ^[0-9]+$ ]] && ((PORT > 0 && PORT < 65536)) || die "CHAT_HTTP_PORT must be a TCP port (got '$PORT')"
  local v
  for v in HANDLER_PROCS HANDLER_THREADS WORKER_PROCS RATE_LIMIT_AUTH RATE_LIMIT_AUTH_BURST RATE_LIMIT_SEND RATE_LIMIT_SEND_BURST; do
    check_int "$v"
  done
  [[ $REALTIME_PROCS =~ ^[0-9]+$ ]] || die "REALTIME_PROCS must be a number (got '$REALTIME_PROCS')"
  [[ ${CHAT_PG_DURABLE:-1} =~ ^[01]$ ]] || die "CHAT_PG_DURABLE must be 0 or 1 (got '$CHAT_PG_DURABLE')"
  [[ $EXTERNAL =~ ^[01]$ ]] || die "CHAT_EXTERNAL_SERVICES must be 0 or 1 (got '$EXTERNAL')"
  [[ $ADDR =~ ^[0-9.]+$|^[0-9a-fA-F:]*:[0-9a-fA-F:.]*$ ]] || die "CHAT_HTTP_ADDR must be an IP address (got '$ADDR')"
  local tools=(psql redis-cli supervisord supervisorctl nginx envsubst curl ss flock setpriv) tool
  if ((EXTERNAL)); then
    check_external_settings
  else
    tools+=("$PGBIN/initdb" "$PGBIN/postgres" redis-server)
  fi
  for tool in "${tools[@]}"; do
    command -v "$tool" >/dev/null || die "missing program: $tool (deploy/deps.sh installs it)"
  done
  local needed=(chat-migrate chat-worker "${HANDLERS[@]/#/chat-}")
  ((REALTIME_PROCS > 0)) && needed+=(chat-realtime)
  for tool in "${needed[@]}"; do
    [[ -x $BUILD/$tool ]] || die "missing executable $BUILD/$tool (build first: make; or set CHAT_BUILD_DIR)"
  done
  [[ -f $BUILD/www/swagger.html ]] || die "missing $BUILD/www, the API docs' web root (build first: make; or set CHAT_BUILD_DIR)"
  read_cors_origins
  if [[ -n $(ss -Hltn "sport = :$PORT") ]]; then
    die "port $PORT is already in use by another program (ss: $(ss -Hltnp "sport = :$PORT" | head -n1 | tr -s ' ')); set CHAT_HTTP_PORT"
  fi
  if ((IS_ROOT)); then
    if ((!EXTERNAL)); then
      id -u postgres >/dev/null 2>&1 || die "no 'postgres' OS user: PostgreSQL refuses to run as root"
      check_traversable postgres postgres "$RUN"
    fi
    check_traversable nobody nogroup "$RUN"
  fi

  # anything left over from a half-started or crashed stack in this run dir goes first
  do_down >/dev/null 2>&1 || true

  UP_DONE=0
  trap on_up_exit EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM

  mkdir -p "$RUN"/{pgsock,redis,sock,pids,logs} "$NGINX_PREFIX"/{conf,tmp}
  mark_logs
  chmod 755 "$RUN"/{pgsock,sock,pids,logs} "$NGINX_PREFIX"
  chmod 700 "$RUN/redis"

  # ---- 1. the database cluster, once (external services: the database host has its own)
  STEP=postgres STEP_LOG=$LOGS/postgres.log
  if ((!EXTERNAL)); then
    touch "$STEP_LOG"
    if ((IS_ROOT)); then
      chown postgres:postgres "$RUN/pgsock" "$STEP_LOG"
      [[ -d $RUN/pg ]] || install -d -o postgres -g postgres -m 700 "$RUN/pg"
    else
      mkdir -p "$RUN/pg"
      chmod 700 "$RUN/pg"
    fi
    if [[ ! -s $RUN/pg/PG_VERSION ]]; then
      as_pg "$PGBIN/initdb" -D "$RUN/pg" -U postgres -A trust -E UTF8 --locale=C.UTF-8 >>"$STEP_LOG" 2>&1 9>&- ||
        fail "$STEP" "$STEP_LOG" "initdb failed"
    fi
  fi

  # ---- 2. chat.env, nginx's config and supervisord's
  STEP=config STEP_LOG=""
  REALTIME_PORT_LIST=()
  WORKER_PORT_LIST=()  # each chat-worker's WORKER_METRICS_PORT
  local p
  while ((${#REALTIME_PORT_LIST[@]} + ${#WORKER_PORT_LIST[@]} < REALTIME_PROCS + WORKER_PROCS)); do
    p=$(free_port)
    [[ " ${REALTIME_PORT_LIST[*]} ${WORKER_PORT_LIST[*]} $PORT " == *" $p "* ]] && continue
    if ((${#REALTIME_PORT_LIST[@]} < REALTIME_PROCS)); then REALTIME_PORT_LIST+=("$p"); else WORKER_PORT_LIST+=("$p"); fi
  done
  write_env_file
  export_env_file
  export CHAT_ENV_FILE=$ENV_FILE   # core's config reads this file (the environment wins anyway)
  render_nginx
  local out
  out=$(nginx -t -q -e "$LOGS/nginx-error.log" -p "$NGINX_PREFIX/" -c conf/nginx.conf 2>&1 9>&-) || {
    echo "$out" >>"$LOGS/nginx-error.log"
    fail nginx "$LOGS/nginx-error.log" "nginx -t rejected $NGINX_PREFIX/conf/nginx.conf"
  }
  render_supervisor

  # ---- 3. supervisord with PostgreSQL and Redis; migrations
  STEP=supervisord STEP_LOG=$LOGS/supervisord.log
  rm -f "$SUP_SOCK" "$SUP_PID"
  if [[ $mode == foreground ]]; then
    (cd "$RUN" && exec supervisord -n -c "$SUP_CONF") </dev/null >>"$LOGS/supervisord.out" 2>&1 9>&- &
    SUP_CHILD=$!
  else
    (cd "$RUN" && exec supervisord -c "$SUP_CONF") </dev/null >>"$LOGS/supervisord.out" 2>&1 9>&- ||
      fail "$STEP" "$LOGS/supervisord.out" "supervisord did not start"
  fi
  local i
  for ((i = 0; i < 100; i++)); do
    ctl pid >/dev/null 2>&1 && break
    sleep 0.1
  done
  ((i < 100)) || fail "$STEP" "$LOGS/supervisord.out" "supervisord does not answer on $SUP_SOCK"
  if ((EXTERNAL)); then
    # Nothing to start: the database must answer as the programs connect (the application role), and the
    # schema is made by the one host that migrates. Redis is checked by /health below (through Sentinel, when
    # REDIS_SENTINELS is set: the programs' own way to find the master).
    STEP=postgres STEP_LOG=$LOGS/stack.log
    wait_for 60 "PostgreSQL to accept connections at DATABASE_URL" external_pg_ready
    if [[ ${CHAT_MIGRATE:-0} == 1 ]]; then run_migrate; fi
    say "[3/5] database  external: DATABASE_URL, REDIS_${REDIS_SENTINELS:+SENTINELS}${REDIS_SENTINELS:-URL} (migrations: $([[ ${CHAT_MIGRATE:-0} == 1 ]] && echo run || echo not here))"
  else
    STEP=postgres STEP_LOG=$LOGS/postgres.log
    wait_for 60 "PostgreSQL to accept connections" pg_ready
    setup_database
    STEP=redis STEP_LOG=$LOGS/redis.log
    wait_for 20 "Redis to answer PING on $REDIS_SOCK" redis_ready
    run_migrate
    local durable="durable"
    [[ ${CHAT_PG_DURABLE:-1} == 0 ]] && durable="NOT durable: fsync off (CHAT_PG_DURABLE=0)"
    say "[3/5] database  PostgreSQL 15 and Redis in $RUN ($durable)"
  fi

  # ---- 4. the programs: handler groups, workers, realtime daemons, then nginx (supervisord's priorities)
  STEP=services STEP_LOG=""
  local started
  started=$(ctl start all 2>&1) || true
  local bad
  bad=$(ctl status 2>/dev/null | grep -v RUNNING || true)
  if [[ -n $bad ]]; then
    echo "$started" >>"$STACK_LOG"
    fail "$STEP" "" "programs not running: $(echo "$bad" | awk '{print $1 " " $2}' | tr '\n' ' ')"
  fi
  for ((i = 1; i <= ${#REALTIME_PORT_LIST[@]}; i++)); do
    p=${REALTIME_PORT_LIST[i - 1]}
    STEP=chat-realtime-$i STEP_LOG=$LOGS/chat-realtime-$i.log
    wait_for 10 "chat-realtime-$i to answer on 127.0.0.1:$p" http_ok "http://127.0.0.1:$p/metrics"
  done
  for ((i = 1; i <= ${#WORKER_PORT_LIST[@]}; i++)); do
    p=${WORKER_PORT_LIST[i - 1]}
    STEP=chat-worker-$i STEP_LOG=$LOGS/chat-worker-$i.log
    wait_for 10 "chat-worker-$i to answer on 127.0.0.1:$p" http_ok "http://127.0.0.1:$p/metrics"
  done
  say "[4/5] services  ${#HANDLERS[@]} handler groups x $HANDLER_PROCS, $REALTIME_PROCS realtime, $WORKER_PROCS worker, nginx"

  # ---- 5. ready when /health says 200
  STEP=health STEP_LOG=""
  local code=000
  for ((i = 0; i < 300; i++)); do
    code=$(curl -s --noproxy '*' -m 2 -o /dev/null -w '%{http_code}' "http://$(url_host):$PORT/health" 2>/dev/null) || code=000
    [[ $code == 200 ]] && break
    sleep 0.1
  done
  if [[ $code != 200 ]]; then
    fail "$STEP" "" "GET http://$(url_host):$PORT/health answered $code, not 200, for 30 s: $(curl -s --noproxy '*' -m 2 \
      "http://$(url_host):$PORT/health" 2>&1 | head -c 300)"
  fi

  UP_DONE=1
  trap - EXIT INT TERM
  flock -u 9
  exec 9>&-
  say "[5/5] ready     chat stack ready: http://$(url_host):$PORT (run dir $RUN)"
}

# wait_for SECONDS WHAT COMMAND...: until COMMAND succeeds, or fail the current step
wait_for() {
  local secs=$1 what=$2 i; shift 2
  for ((i = 0; i < secs * 10; i++)); do
    "$@" && return 0
    sleep 0.1
  done
  fail "$STEP" "$STEP_LOG" "$what: not within $secs s"
}

pg_ready() {
  PG_SUPER=postgres
  psql -qAtX -h "$RUN/pgsock" -p "$PG_PORT" -U postgres -d postgres -c 'SELECT 1' >/dev/null 2>&1 && return 0
  PG_SUPER=chat  # a cluster made by an earlier version of this script
  psql -qAtX -h "$RUN/pgsock" -p "$PG_PORT" -U chat -d postgres -c 'SELECT 1' >/dev/null 2>&1
}

# The roles of least privilege (README "Database roles"): chat_owner owns the database and its schema and
# runs the migrations; chat_app is what every program connects as, with only the grants of sql/grants.sql.
# The cluster's superuser (postgres) is for this set-up alone. Objects an earlier version of the stack made
# as the superuser are handed to chat_owner.
setup_database() {
  setup_roles_db -h "$RUN/pgsock" -p "$PG_PORT" -U "$PG_SUPER"
}

# setup_roles_db PSQL-ARGS...: the one definition of the roles and the database, for the stack's own cluster
# and for a database host of the external mode (`stack.sh setup-db`); psql with PSQL-ARGS is the superuser.
setup_roles_db() {
  local sq=(psql -qAtX -v ON_ERROR_STOP=1 "$@")
  "${sq[@]}" -d postgres >>"$STEP_LOG" 2>&1 <<'SQL' || fail "$STEP" "$STEP_LOG" "creating the roles failed"
DO $$ BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'chat_owner') THEN CREATE ROLE chat_owner LOGIN; END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'chat_app') THEN CREATE ROLE chat_app LOGIN; END IF;
END $$;
SQL
  if [[ $("${sq[@]}" -d postgres -c "SELECT 1 FROM pg_database WHERE datname = 'chat'" 2>>"$STEP_LOG") != 1 ]]; then
    "${sq[@]}" -d postgres -c 'CREATE DATABASE chat OWNER chat_owner' >>"$STEP_LOG" 2>&1 ||
      fail "$STEP" "$STEP_LOG" "CREATE DATABASE chat failed"
  fi
  "${sq[@]}" -d chat >>"$STEP_LOG" 2>&1 <<'SQL' || fail "$STEP" "$STEP_LOG" "handing the schema to chat_owner failed"
ALTER DATABASE chat OWNER TO chat_owner;
ALTER SCHEMA public OWNER TO chat_owner;
DO $$ DECLARE r record; BEGIN
  FOR r IN SELECT c.oid::regclass AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
           WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p', 'v', 'm') AND c.relowner <> 'chat_owner'::regrole
             AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = c.oid AND d.deptype = 'e') LOOP
    EXECUTE format('ALTER TABLE %s OWNER TO chat_owner', r.name);
  END LOOP;
  FOR r IN SELECT p.oid::regprocedure AS name FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
           WHERE n.nspname = 'public' AND p.proowner <> 'chat_owner'::regrole
             AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = p.oid AND d.deptype = 'e') LOOP
    EXECUTE format('ALTER FUNCTION %s OWNER TO chat_owner', r.name);
  END LOOP;
END $$;
SQL
}
redis_ready() { [[ $(redis-cli -s "$REDIS_SOCK" ping 2>/dev/null) == PONG ]]; }
external_pg_ready() { psql -qAtX -d "$DATABASE_URL" -c 'SELECT 1' >/dev/null 2>&1; }
url_host() { if [[ $ADDR == *:* ]]; then echo "[$ADDR]"; else echo "$ADDR"; fi; }

# The external mode's settings, checked before anything starts. chat.env gets them as they are: every host of a
# cluster must see the same database, the same Redis and the same secret.
check_external_settings() {
  [[ -n ${DATABASE_URL:-} ]] || die "CHAT_EXTERNAL_SERVICES=1 needs DATABASE_URL (the application role chat_app)"
  [[ -n ${REDIS_URL:-} ]] || die "CHAT_EXTERNAL_SERVICES=1 needs REDIS_URL (with REDIS_SENTINELS: its password and db)"
  [[ -n ${JWT_SECRET_KEY:-${SECRET_KEY:-}} ]] ||
    die "CHAT_EXTERNAL_SERVICES=1 needs JWT_SECRET_KEY: every host of the cluster must check the others' tokens"
  [[ ${CHAT_MIGRATE:-0} =~ ^[01]$ ]] || die "CHAT_MIGRATE must be 0 or 1 (got '$CHAT_MIGRATE')"
  if [[ ${CHAT_MIGRATE:-0} == 1 && -z ${MIGRATE_DATABASE_URL:-} ]]; then
    die "CHAT_MIGRATE=1 needs MIGRATE_DATABASE_URL (the owner role chat_owner)"
  fi
  return 0
}
http_ok() { [[ $(curl -s --noproxy '*' -m 1 -o /dev/null -w '%{http_code}' "$1" 2>/dev/null) == 200 ]]; }

write_env_file() {
  local secret=${JWT_SECRET_KEY:-${SECRET_KEY:-}} v
  if [[ -z $secret ]]; then
    [[ -s $RUN/secret ]] || (umask 077 && head -c 48 /dev/urandom | base64 -w0 >"$RUN/secret")
    secret=$(<"$RUN/secret")
  fi
  {
    echo "# chat stack environment, written by deploy/stack.sh up; usable with: set -a; . $ENV_FILE"
    env_line ENVIRONMENT "$ENVIRONMENT"
    if ((EXTERNAL)); then
      env_line DATABASE_URL "$DATABASE_URL"
      [[ -n ${MIGRATE_DATABASE_URL:-} ]] && env_line MIGRATE_DATABASE_URL "$MIGRATE_DATABASE_URL"
      env_line REDIS_URL "$REDIS_URL"
      for v in DATABASE_REPLICA_URL REDIS_SENTINELS REDIS_MASTER_NAME REDIS_WAIT_REPLICAS REDIS_WAIT_MS; do
        [[ -n ${!v:-} ]] && env_line "$v" "${!v}"
      done
      env_line CHAT_EXTERNAL_SERVICES 1
    else
      env_line DATABASE_URL "postgresql:///chat?host=$RUN/pgsock&port=$PG_PORT&user=chat_app"
      env_line MIGRATE_DATABASE_URL "postgresql:///chat?host=$RUN/pgsock&port=$PG_PORT&user=chat_owner"
      env_line REDIS_URL "unix://$REDIS_SOCK"
    fi
    env_line JWT_SECRET_KEY "$secret"
    env_line BACKEND_CORS_ORIGINS "$CORS_NORMALIZED"
    for v in ACCESS_TOKEN_EXPIRE_MINUTES REFRESH_TOKEN_EXPIRE_DAYS REFRESH_REUSE_GRACE_SECONDS MODERATION_HOUR_SECONDS \
        JWT_ALGORITHM LOG_LEVEL \
        ARGON2_TIME_COST ARGON2_MEMORY_KIB ARGON2_PARALLELISM; do
      [[ -n ${!v:-} ]] && env_line "$v" "${!v}"
    done
    for v in HANDLER_THREADS RATE_LIMIT_AUTH RATE_LIMIT_AUTH_BURST RATE_LIMIT_SEND RATE_LIMIT_SEND_BURST; do
      env_line "$v" "${!v}"
    done
    env_line CHAT_HTTP_PORT "$PORT"
    # (the default, 127.0.0.1, is left out: chat.env of the default stack stays as it was)
    [[ $ADDR != 127.0.0.1 ]] && env_line CHAT_HTTP_ADDR "$ADDR"
    env_line CHAT_RUN_DIR "$RUN"
    env_line CHAT_BUILD_DIR "$BUILD"
    env_line CHAT_PG_DURABLE "${CHAT_PG_DURABLE:-1}"
    env_line REALTIME_PORTS "$(IFS=,; echo "${REALTIME_PORT_LIST[*]}")"
    env_line WORKER_METRICS_PORTS "$(IFS=,; echo "${WORKER_PORT_LIST[*]}")"
  } >"$ENV_FILE.tmp"
  chmod 600 "$ENV_FILE.tmp"
  mv "$ENV_FILE.tmp" "$ENV_FILE"
}

# supervisord.conf: one section per program. Restart policy for all: a program that exits is started again at
# once; one that dies within a second of its start is retried after 1, 2, 3... s (supervisord's backoff), up
# to 60 times before it is left FATAL. Each program's output goes to logs/<name>.log (rotated at 20 MB).
# sup_common PRIORITY STOPSIGNAL STOPWAIT [AUTOSTART]: the lines every program section shares
sup_common() {
  cat <<EOF
priority=$1
autostart=${4:-false}
autorestart=true
startsecs=1
startretries=60
stopsignal=$2
stopwaitsecs=$3
killasgroup=true
redirect_stderr=true
stdout_logfile_maxbytes=20MB
stdout_logfile_backups=2
EOF
}

render_supervisor() {
  local pgopts="-D $RUN/pg -k $RUN/pgsock -c listen_addresses= -c unix_socket_permissions=0700 -p $PG_PORT"
  # Durable as in production: a 2xx means the commit is on disk. CHAT_PG_DURABLE=0 (benchmarks only) turns
  # off fsync and synchronous commit, and a crash then loses acknowledged writes.
  [[ ${CHAT_PG_DURABLE:-1} == 0 ]] && pgopts+=" -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
  local h i name p
  {
    cat <<EOF
; generated by deploy/stack.sh up: the programs of the chat dev stack in $RUN
[unix_http_server]
file=$SUP_SOCK
chmod=0700

[supervisorctl]
serverurl=unix://$SUP_SOCK

[rpcinterface:supervisor]
supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface

[supervisord]
logfile=$LOGS/supervisord.log
logfile_maxbytes=20MB
logfile_backups=2
pidfile=$SUP_PID
directory=$RUN
childlogdir=$LOGS
minfds=$(ulimit -Hn | sed 's/unlimited/20000/' | awk '{print ($1 < 20000) ? $1 : 20000}')
silent=true
identifier=chat-stack:$RUN
EOF
    if ((!EXTERNAL)); then
      echo
      echo "[program:postgres]"
      echo "command=$PGBIN/postgres $pgopts"
      ((IS_ROOT)) && echo "user=postgres"
      echo "stdout_logfile=$LOGS/postgres.log"
      sup_common 10 INT 30 true
      echo
      echo "[program:redis]"
      echo "command=redis-server --port 0 --unixsocket $REDIS_SOCK --unixsocketperm 700 --save \"\" --appendonly yes --appendfsync everysec --dir $RUN/redis --daemonize no"
      echo "stdout_logfile=$LOGS/redis.log"
      sup_common 10 TERM 30 true
    fi
    for h in "${HANDLERS[@]}"; do
      echo
      echo "[fcgi-program:chat-$h]"
      echo "socket=unix://$SOCKS/$h.sock"
      echo "socket_mode=0666"
      echo "command=$BUILD/chat-$h"
      echo "process_name=%(program_name)s-%(process_num)d"
      echo "numprocs=$HANDLER_PROCS"
      echo "numprocs_start=1"
      echo "stdout_logfile=$LOGS/%(program_name)s-%(process_num)d.log"
      sup_common 30 TERM 10
    done
    echo
    # One program per worker, each with its own metrics port, grouped so that they are still
    # chat-worker:chat-worker-N (and chat-worker:* all of them) as with numprocs.
    local workers=()
    for ((i = 1; i <= ${#WORKER_PORT_LIST[@]}; i++)); do workers+=("chat-worker-$i"); done
    ((${#workers[@]})) && echo "[group:chat-worker]" && echo "programs=$(IFS=,; echo "${workers[*]}")"
    for ((i = 1; i <= ${#WORKER_PORT_LIST[@]}; i++)); do
      echo
      echo "[program:chat-worker-$i]"
      echo "command=$BUILD/chat-worker"
      echo "environment=WORKER_METRICS_PORT=\"${WORKER_PORT_LIST[i - 1]}\""
      echo "stdout_logfile=$LOGS/chat-worker-$i.log"
      sup_common 40 TERM 12
    done
    for ((i = 1; i <= ${#REALTIME_PORT_LIST[@]}; i++)); do
      p=${REALTIME_PORT_LIST[i - 1]}
      name=chat-realtime-$i
      echo
      echo "[program:$name]"
      echo "command=$BUILD/chat-realtime --port $p --socket $SOCKS/realtime-$i.sock"
      echo "stdout_logfile=$LOGS/$name.log"
      sup_common 40 TERM 10
    done
    echo
    echo "[program:nginx]"
    echo "command=nginx -g \"daemon off;\" -e $LOGS/nginx-error.log -p $NGINX_PREFIX/ -c conf/nginx.conf"
    echo "stdout_logfile=$LOGS/nginx.log"
    sup_common 90 QUIT 10
  } >"$SUP_CONF.tmp"
  mv "$SUP_CONF.tmp" "$SUP_CONF"
}

export_env_file() {               # export every KEY=VALUE of chat.env (quotes stripped)
  local line k v
  while IFS= read -r line; do
    [[ $line =~ ^([A-Za-z_][A-Za-z0-9_]*)=(.*)$ ]] || continue
    k=${BASH_REMATCH[1]} v=${BASH_REMATCH[2]}
    [[ $v == \'*\' ]] && v=${v:1:${#v}-2}
    export "$k=$v"
  done <"$ENV_FILE"
}

run_migrate() {
  STEP=migrate STEP_LOG=$LOGS/chat-migrate.log
  [[ -x $BUILD/chat-migrate ]] || fail "$STEP" "" "missing executable $BUILD/chat-migrate"
  echo "---- $(date -u +%FT%TZ) chat-migrate $REPO_DIR/sql" >>"$STEP_LOG"
  (cd "$RUN" && exec "$BUILD/chat-migrate" "$REPO_DIR/sql") </dev/null >>"$STEP_LOG" 2>&1 9>&- ||
    fail "$STEP" "$STEP_LOG" "chat-migrate exited with status $?"
}

# nginx.conf, the chat site and its pieces in $NGINX_PREFIX/conf: deploy/render-nginx.sh, as the package renders them.
render_nginx() {
  local i sockets=()
  # nginx reaches each local daemon over its unix socket (one bounded buffer per hop: see realtime/server.cpp);
  # the TCP ports serve /metrics and clients that connect to one daemon directly.
  for ((i = 1; i <= ${#REALTIME_PORT_LIST[@]}; i++)); do sockets+=(--realtime-socket "$SOCKS/realtime-$i.sock"); done
  local user="nobody nogroup"
  ((IS_ROOT)) || user="$(id -un) $(id -gn)"   # ignored (with a warning) when nginx is not root
  # the API documentation: the build's www/ (cmake/www.cmake)
  CHAT_LISTEN_ADDR=$ADDR CHAT_HTTP_PORT=$PORT CHAT_SOCK_DIR=$SOCKS CHAT_LOG_DIR=$LOGS CHAT_WWW_DIR=$BUILD/www \
    CHAT_PID_DIR=$PIDS CHAT_NGINX_TEMP_DIR=$NGINX_PREFIX/tmp CHAT_NGINX_USER=$user \
    "$REPO_DIR/deploy/render-nginx.sh" --nginx-conf-dir "$NGINX_PREFIX/conf" --site "$NGINX_PREFIX/conf/chat-site.conf" \
    --main "$NGINX_PREFIX/conf/nginx.conf" --src "$REPO_DIR/nginx" --src "$BUILD/nginx" \
    --chat-migrate "$BUILD/chat-migrate" --bench-dir "$RUN/bench" "${sockets[@]}" 9>&- ||
    fail nginx "" "deploy/render-nginx.sh failed"
}

# ------------------------------------------------------------------------------------------------
# down

do_down() {
  [[ -d $RUN ]] || return 0
  local p pids
  # 1. supervisord stops every program in reverse priority (nginx first, PostgreSQL and Redis last) and exits
  p=$(supervisor_pid || true)
  if [[ -n $p ]]; then
    ctl shutdown >/dev/null 2>&1 || kill -TERM "$p" 2>/dev/null || true
    if ! wait_gone "$STOP_WAIT" "$p"; then
      warn "supervisord $p did not stop its programs within ${STOP_WAIT}s: KILL"
      kill -KILL "$p" 2>/dev/null || true
    fi
  fi
  # 2. whatever is left of this stack (a killed supervisord's children, orphaned PostgreSQL backends)
  mapfile -t pids < <(stack_pids)
  if ((${#pids[@]})); then
    kill -TERM "${pids[@]}" 2>/dev/null || true
    if ! wait_gone 5 "${pids[@]}"; then
      mapfile -t pids < <(stack_pids)
      ((${#pids[@]})) && { warn "killing what is left: ${pids[*]}"; kill -KILL "${pids[@]}" 2>/dev/null || true; }
      wait_gone 2 "${pids[@]}" || true
    fi
  fi
  rm -f "$SUP_PID" "$SUP_SOCK" "$SOCKS"/*.sock "$REDIS_SOCK" "$PIDS"/nginx.pid
  if [[ -f $RUN/pg/postmaster.pid ]]; then
    p=$(head -n1 "$RUN/pg/postmaster.pid" 2>/dev/null || true)
    pid_alive "${p:-x}" || rm -f "$RUN/pg/postmaster.pid"
  fi
  rm -f "$RUN/pgsock"/.s.PGSQL.* 2>/dev/null || true
  return 0
}

cmd_down() {
  [[ -d $RUN ]] || return 0
  lock_run_dir
  do_down
  flock -u 9
  exec 9>&-
}

# ------------------------------------------------------------------------------------------------
# run, status, env, migrate

RUN_TAIL_PID="" RUN_SLEEP_PID="" RUN_STOPPING=0 SUP_CHILD=""
stop_run() {
  ((RUN_STOPPING)) && return 0
  RUN_STOPPING=1
  set +e                          # nothing may keep the stack from being stopped
  trap '' INT TERM PIPE
  # The follower and the wait loop's sleep (also one forked just before the signal): nothing outlives run.
  local job
  for job in ${RUN_TAIL_PID:-} ${RUN_SLEEP_PID:-} $(jobs -p); do
    [[ $job == "${SUP_CHILD:-}" ]] || kill "$job" 2>/dev/null
  done
  warn "stopping the chat stack"
  cmd_down >/dev/null 2>&1
  warn "chat stack stopped"
}

cmd_run() {
  trap '' PIPE                    # a dead reader of our output (tee, a closed terminal) is no reason to stop
  cmd_up foreground               # (a failed or interrupted start stops what it started by itself)
  trap 'stop_run; exit 0' INT TERM
  trap 'stop_run' EXIT
  say "logs follow (Ctrl-C stops the stack): $LOGS"
  tail -n 0 -F "$LOGS"/*.log 2>/dev/null &
  RUN_TAIL_PID=$!
  while stack_running; do
    sleep 1 &
    RUN_SLEEP_PID=$!
    wait $RUN_SLEEP_PID || true
  done
  warn "supervisord is gone; stopping the rest"
  exit 0
}

cmd_status() {
  local out rc=0
  if ! stack_running; then
    echo "chat stack not running (run dir $RUN)"
    return 3
  fi
  out=$(ctl status 2>&1) || rc=3
  echo "$out"
  grep -qv RUNNING <<<"$out" && rc=3
  echo "http://$(env_addr):$(env_value CHAT_HTTP_PORT) (run dir $RUN)"
  return $rc
}

cmd_migrate() {
  [[ -f $ENV_FILE ]] || die "no $ENV_FILE: start the stack first (deploy/stack.sh up)"
  export_env_file
  BUILD=$(realpath -m "${CALLER_BUILD:-${CHAT_BUILD_DIR:-$BUILD}}")   # the build the stack was started from
  export CHAT_ENV_FILE=$ENV_FILE
  if ! (run_migrate); then
    show_tail "$LOGS/chat-migrate.log"
    exit 1
  fi
  echo "migrations applied"
}

# setup-db PSQL-ARGS...: setup_database's roles and database on a cluster this stack does not run
cmd_setup_db() {
  (($#)) || die "usage: $0 setup-db PSQL-ARGS... (psql's connection options for the superuser, e.g. -h HOST -U postgres)"
  STEP=setup-db STEP_LOG=/dev/stderr
  setup_roles_db "$@"
  echo "roles chat_owner, chat_app and database chat ready"
}

# defaults of the settings read by `up`
: "${ENVIRONMENT:=development}"
: "${RATE_LIMIT_AUTH:=5}" "${RATE_LIMIT_AUTH_BURST:=20}" "${RATE_LIMIT_SEND:=10}" "${RATE_LIMIT_SEND_BURST:=30}"
: "${HANDLER_PROCS:=2}" "${HANDLER_THREADS:=2}"
: "${WORKER_PROCS:=1}"
: "${REALTIME_PROCS:=2}"

case ${1:-} in
  up) cmd_up ;;
  down) cmd_down ;;
  run) cmd_run ;;
  status) cmd_status ;;
  env) echo "$ENV_FILE" ;;
  migrate) cmd_migrate ;;
  setup-db) shift; cmd_setup_db "$@" ;;
  ctl) shift; [[ -f $SUP_CONF ]] || die "no $SUP_CONF: start the stack first"; ctl "$@" ;;
  *) echo "usage: $0 up|down|run|status|env|migrate|setup-db|ctl ARGS..." >&2; exit 2 ;;
esac
