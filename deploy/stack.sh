#!/usr/bin/env bash
# Dev stack of the chat backend (PostgreSQL, Redis, FastCGI handlers, nginx) in one run dir: make run/up/down, tests.
#
# usage: deploy/stack.sh up|down|run|status|env|migrate
#   up       start everything; prints "chat stack ready: http://127.0.0.1:PORT" when /health answers 200
#   down     stop everything of this run dir (idempotent, also for a half-started stack)
#   run      up, follow every log in the foreground, down on Ctrl-C / SIGTERM / exit
#   status   one line per component; exit 0 when all are up, 3 otherwise
#   env      print the path of chat.env (the environment every program of the stack gets)
#   migrate  run chat-migrate against the running stack
# Settings (environment, then <repo>/.env; the environment wins): CHAT_RUN_DIR, CHAT_HTTP_PORT, CHAT_BUILD_DIR,
# BACKEND_CORS_ORIGINS, JWT_SECRET_KEY/SECRET_KEY, ENVIRONMENT, ACCESS_TOKEN_EXPIRE_MINUTES, RATE_LIMIT_AUTH(_BURST),
# RATE_LIMIT_SEND(_BURST), HANDLER_PROCS, HANDLER_THREADS, WORKER_PROCS, REALTIME_PROCS, LOG_LEVEL,
# CHAT_PG_DURABLE=0 (fsync off: benchmarks only, a crash loses acknowledged writes). chat.env gets REALTIME_PORTS=p1,p2,...: each chat-realtime daemon's own port.
set -euo pipefail

# FastCGI handler groups: chat-NAME listens on $RUN/sock/NAME.sock (nginx upstream chat_NAME).
# FUTURE: add channels messages conversations admin here (and their upstream/locations in the nginx template).
HANDLERS=(auth users system channels messages conversations)

PATH=$PATH:/usr/sbin:/sbin         # nginx lives in /usr/sbin
REPO_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
PGBIN=/usr/lib/postgresql/15/bin
PG_PORT=5432                      # unix socket only (in $RUN/pgsock): the number never collides with anything
STOP_WAIT=5                       # seconds a process gets after TERM/QUIT before KILL

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
ENV_FILE=$RUN/chat.env
LOGS=$RUN/logs
PIDS=$RUN/pids
SOCKS=$RUN/sock
REDIS_SOCK=$RUN/redis/redis.sock
NGINX_PREFIX=$RUN/nginx
NGINX_PID=$PIDS/nginx.pid
REDIS_PID=$PIDS/redis.pid

IS_ROOT=0
[[ $(id -u) == 0 ]] && IS_ROOT=1

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

# pid_ours PID: alive and started for this run dir (its command line names the run dir, or its
# environment has CHAT_RUN_DIR=$RUN), so a stale pid file never makes us signal someone else's process.
pid_ours() {
  pid_alive "$1" || return 1
  tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null | grep -qF -- "$RUN/" && return 0
  grep -qzxF -- "CHAT_RUN_DIR=$RUN" "/proc/$1/environ" 2>/dev/null
}

read_pids() { [[ -f $1 ]] && tr -s ' \n' '\n\n' <"$1" | grep -E '^[0-9]+$' || true; }

children_of() {                   # direct children of PID (ppid is the 2nd field after "(comm) ")
  local f stat fields
  for f in /proc/[0-9]*/stat; do
    { read -r stat <"$f"; } 2>/dev/null || continue
    read -ra fields <<<"${stat##*) }"
    [[ ${fields[1]} == "$1" ]] || continue
    f=${f#/proc/}
    echo "${f%/stat}"
  done
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

# stop_pids SIGNAL PID...: signal, wait STOP_WAIT s, then KILL what is left
stop_pids() {
  local sig=$1 p alive=(); shift
  for p in "$@"; do pid_ours "$p" && alive+=("$p"); done
  ((${#alive[@]})) || return 0
  kill "-$sig" "${alive[@]}" 2>/dev/null || true
  if ! wait_gone "$STOP_WAIT" "${alive[@]}"; then
    for p in "${alive[@]}"; do
      if pid_alive "$p"; then
        echo "stack.sh: pid $p did not stop after SIG$sig within ${STOP_WAIT}s: KILL" >&2
        kill -KILL "$p" 2>/dev/null || true
      fi
    done
    wait_gone 2 "${alive[@]}" || true
  fi
}

stop_pidfile() {                  # stop_pidfile SIGNAL FILE: every pid in FILE, then remove FILE
  local pids
  mapfile -t pids < <(read_pids "$2")
  ((${#pids[@]})) && stop_pids "$1" "${pids[@]}"
  rm -f "$2"
}

as_pg() {                         # run a PostgreSQL binary as the postgres OS user when root (it refuses root)
  if ((IS_ROOT)); then
    (cd "$RUN" && setpriv --reuid=postgres --regid=postgres --init-groups -- "$@")
  else
    (cd "$RUN" && "$@")
  fi
}

# start_daemon NAME CMD...: a background program of the stack (realtime daemons, worker): own session,
# stdout+stderr appended to logs/NAME.log, pid in pids/NAME.pid; `down` stops it (TERM, then KILL).
start_daemon() {
  local name=$1; shift
  [[ -x $1 ]] || fail "start $name" "" "$1 is missing or not executable"
  (cd "$RUN" && exec setsid "$@" </dev/null >>"$LOGS/$name.log" 2>&1 9>&-) &
  echo $! >"$PIDS/$name.pid"
}

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
  echo "stack.sh: step '$1' failed: $3" >&2
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
    printf '%s\n%s\n' "----- tail of $f -----" "$out" >&2
  done
}

on_up_exit() {
  local rc=$?
  ((UP_DONE)) && return 0
  trap - EXIT INT TERM
  echo "stack.sh: up failed during step '${STEP:-?}' (exit $rc); stopping what was started" >&2
  if [[ -n $STEP_LOG ]]; then show_tail "$STEP_LOG"; else show_tail "$LOGS"/*.log; fi
  do_down >/dev/null 2>&1 || true
  exit 1
}

lock_run_dir() {
  exec 9>"$RUN/.stack.lock"
  flock -w 120 9 || die "another stack.sh is working on $RUN (lock $RUN/.stack.lock)"
}

stack_running() { local p; p=$(read_pids "$NGINX_PID" | head -n1); [[ -n $p ]] && pid_ours "$p"; }

env_value() {                     # env_value KEY: a value from chat.env (quotes stripped)
  [[ -f $ENV_FILE ]] || return 0
  sed -n "s/^$1=//p" "$ENV_FILE" | tail -n1 | sed -e "s/^'\(.*\)'\$/\1/"
}

check_int() { [[ ${!1} =~ ^[1-9][0-9]*$ ]] || die "$1 must be a positive integer (got '${!1}')"; }

# BACKEND_CORS_ORIGINS: JSON list, comma list or *; sets CORS_ORIGINS (array) and CORS_NORMALIZED
parse_origins() {
  local raw=$1 item items re='^[A-Za-z][A-Za-z0-9+.-]*://[][A-Za-z0-9._~:@%+-]+$'
  raw=${raw#"${raw%%[![:space:]]*}"}; raw=${raw%"${raw##*[![:space:]]}"}
  [[ $raw == \[*\] ]] && raw=${raw:1:${#raw}-2}
  CORS_ORIGINS=()
  IFS=',' read -ra items <<<"$raw"
  for item in "${items[@]}"; do
    item=${item//[[:space:]]/}
    item=${item#\"}; item=${item%\"}; item=${item#\'}; item=${item%\'}
    while [[ ${#item} -gt 1 && $item == */ ]]; do item=${item%/}; done   # "http://a/" names the origin "http://a"
    [[ -z $item ]] && continue
    if [[ $item != '*' && ! $item =~ $re ]]; then
      die "BACKEND_CORS_ORIGINS: '$item' is not an origin like http://host:port"
    fi
    CORS_ORIGINS+=("$item")
  done
  CORS_NORMALIZED=$(IFS=,; echo "${CORS_ORIGINS[*]}")
}

write_cors_map() {
  local o out=$1
  {
    echo "# generated by deploy/stack.sh from BACKEND_CORS_ORIGINS=$CORS_NORMALIZED"
    for o in "${CORS_ORIGINS[@]}"; do
      if [[ $o == '*' ]]; then echo '"~." $http_origin;'; else echo "\"$o\" \$http_origin;"; fi
    done
  } >"$out"
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

cmd_up() {
  [[ $RUN =~ ^/[A-Za-z0-9_./+-]+$ ]] || die "CHAT_RUN_DIR '$RUN' may only contain letters, digits and _ . / + -"
  ((${#RUN} <= 75)) || die "CHAT_RUN_DIR '$RUN' is too long for unix socket paths (max 75 characters)"
  mkdir -p "$RUN"
  chmod 755 "$RUN"
  lock_run_dir

  if stack_running; then
    echo "chat stack already running at http://127.0.0.1:$(env_value CHAT_HTTP_PORT) (run dir $RUN)"
    return 0
  fi

  # ---- settings and preconditions: checked before anything starts
  [[ $PORT =~ ^[0-9]+$ ]] && ((PORT > 0 && PORT < 65536)) || die "CHAT_HTTP_PORT must be a TCP port (got '$PORT')"
  local v
  for v in HANDLER_PROCS HANDLER_THREADS WORKER_PROCS RATE_LIMIT_AUTH RATE_LIMIT_AUTH_BURST RATE_LIMIT_SEND RATE_LIMIT_SEND_BURST; do
    check_int "$v"
  done
  [[ $REALTIME_PROCS =~ ^[0-9]+$ ]] || die "REALTIME_PROCS must be a number (got '$REALTIME_PROCS')"
  parse_origins "$BACKEND_CORS_ORIGINS"
  local tool
  for tool in "$PGBIN/initdb" "$PGBIN/pg_ctl" psql redis-server redis-cli spawn-fcgi nginx envsubst curl ss flock setpriv; do
    command -v "$tool" >/dev/null || die "missing program: $tool"
  done
  local needed=(chat-migrate "${HANDLERS[@]/#/chat-}")
  ((REALTIME_PROCS > 0)) && needed+=(chat-realtime)
  for tool in "${needed[@]}"; do
    [[ -x $BUILD/$tool ]] || die "missing executable $BUILD/$tool (build first: make; or set CHAT_BUILD_DIR)"
  done
  if [[ -n $(ss -Hltn "sport = :$PORT") ]]; then
    die "port $PORT is already in use by another program (ss: $(ss -Hltnp "sport = :$PORT" | head -n1 | tr -s ' ')); set CHAT_HTTP_PORT"
  fi
  if ((IS_ROOT)); then
    id -u postgres >/dev/null 2>&1 || die "no 'postgres' OS user: PostgreSQL refuses to run as root"
    check_traversable postgres postgres "$RUN"
    check_traversable nobody nogroup "$RUN"
  fi

  # anything left over from a half-started stack in this run dir goes first
  do_down >/dev/null 2>&1 || true

  UP_DONE=0
  trap on_up_exit EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM

  mkdir -p "$RUN"/{pgsock,redis,sock,pids,logs} "$NGINX_PREFIX"/{conf,tmp}
  mark_logs
  chmod 755 "$RUN"/{pgsock,sock,pids,logs} "$NGINX_PREFIX"
  chmod 700 "$RUN/redis"

  # ---- 1. PostgreSQL 15, unix socket only
  STEP=postgres STEP_LOG=$LOGS/postgres.log
  touch "$STEP_LOG"
  if ((IS_ROOT)); then
    chown postgres:postgres "$RUN/pgsock" "$STEP_LOG"
    [[ -d $RUN/pg ]] || install -d -o postgres -g postgres -m 700 "$RUN/pg"
  else
    mkdir -p "$RUN/pg"
    chmod 700 "$RUN/pg"
  fi
  if [[ ! -s $RUN/pg/PG_VERSION ]]; then
    as_pg "$PGBIN/initdb" -D "$RUN/pg" -U chat -A trust -E UTF8 --locale=C.UTF-8 >>"$STEP_LOG" 2>&1 9>&- ||
      fail "$STEP" "$STEP_LOG" "initdb failed"
  fi
  local pgopts="-k $RUN/pgsock -c listen_addresses='' -c unix_socket_permissions=0700 -p $PG_PORT"
  # Durable as in production: a 2xx means the commit is on disk. CHAT_PG_DURABLE=0 (benchmarks only) turns
  # off fsync and synchronous commit, and a crash then loses acknowledged writes.
  [[ ${CHAT_PG_DURABLE:-1} == 0 ]] && pgopts+=" -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
  as_pg "$PGBIN/pg_ctl" -D "$RUN/pg" -l "$STEP_LOG" -w -t 60 -s start -o "$pgopts" </dev/null >>"$STEP_LOG" 2>&1 9>&- ||
    fail "$STEP" "$STEP_LOG" "pg_ctl start failed"
  local has_db
  has_db=$(psql -qAtX -h "$RUN/pgsock" -p "$PG_PORT" -U chat -d postgres \
    -c "SELECT 1 FROM pg_database WHERE datname = 'chat'" 2>>"$STEP_LOG") || fail "$STEP" "$STEP_LOG" "psql cannot connect"
  if [[ $has_db != 1 ]]; then
    psql -qAtX -h "$RUN/pgsock" -p "$PG_PORT" -U chat -d postgres -c 'CREATE DATABASE chat' >>"$STEP_LOG" 2>&1 ||
      fail "$STEP" "$STEP_LOG" "CREATE DATABASE chat failed"
  fi

  # ---- 2. Redis, unix socket only; the append-only file keeps the streams (events, jobs) across a crash of
  # the process: Redis writes it before it answers, so a kill -9 loses nothing acknowledged
  STEP=redis STEP_LOG=$LOGS/redis.log
  rm -f "$REDIS_SOCK"
  redis-server --port 0 --unixsocket "$REDIS_SOCK" --unixsocketperm 700 --save '' --appendonly yes \
    --appendfsync everysec \
    --dir "$RUN/redis" --daemonize yes --pidfile "$REDIS_PID" --logfile "$STEP_LOG" </dev/null >>"$STEP_LOG" 2>&1 9>&- ||
    fail "$STEP" "$STEP_LOG" "redis-server did not start"
  local i
  for ((i = 0; i < 100; i++)); do
    [[ $(redis-cli -s "$REDIS_SOCK" ping 2>/dev/null) == PONG ]] && break
    sleep 0.1
  done
  ((i < 100)) || fail "$STEP" "$STEP_LOG" "redis does not answer PING on $REDIS_SOCK"

  # ---- 3. chat.env: the environment of every program of the stack
  STEP=chat.env STEP_LOG=""
  # realtime daemons: one free TCP port each (listed in chat.env so tests can reach one daemon directly)
  REALTIME_PORT_LIST=()
  local p
  while ((${#REALTIME_PORT_LIST[@]} < REALTIME_PROCS)); do
    p=$(free_port)
    [[ " ${REALTIME_PORT_LIST[*]} $PORT " == *" $p "* ]] || REALTIME_PORT_LIST+=("$p")
  done
  local secret=${JWT_SECRET_KEY:-${SECRET_KEY:-}}
  if [[ -z $secret ]]; then
    [[ -s $RUN/secret ]] || (umask 077 && head -c 48 /dev/urandom | base64 -w0 >"$RUN/secret")
    secret=$(<"$RUN/secret")
  fi
  {
    echo "# chat stack environment, written by deploy/stack.sh up; usable with: set -a; . $ENV_FILE"
    env_line ENVIRONMENT "$ENVIRONMENT"
    env_line DATABASE_URL "postgresql:///chat?host=$RUN/pgsock&port=$PG_PORT&user=chat"
    env_line REDIS_URL "unix://$REDIS_SOCK"
    env_line JWT_SECRET_KEY "$secret"
    env_line BACKEND_CORS_ORIGINS "$CORS_NORMALIZED"
    for v in ACCESS_TOKEN_EXPIRE_MINUTES REFRESH_TOKEN_EXPIRE_DAYS REFRESH_REUSE_GRACE_SECONDS JWT_ALGORITHM LOG_LEVEL \
        ARGON2_TIME_COST ARGON2_MEMORY_KIB ARGON2_PARALLELISM; do
      [[ -n ${!v:-} ]] && env_line "$v" "${!v}"
    done
    for v in HANDLER_THREADS RATE_LIMIT_AUTH RATE_LIMIT_AUTH_BURST RATE_LIMIT_SEND RATE_LIMIT_SEND_BURST; do
      env_line "$v" "${!v}"
    done
    env_line CHAT_HTTP_PORT "$PORT"
    env_line CHAT_RUN_DIR "$RUN"
    env_line CHAT_BUILD_DIR "$BUILD"
    env_line REALTIME_PORTS "$(IFS=,; echo "${REALTIME_PORT_LIST[*]}")"
  } >"$ENV_FILE.tmp"
  chmod 600 "$ENV_FILE.tmp"
  mv "$ENV_FILE.tmp" "$ENV_FILE"
  export_env_file
  export CHAT_ENV_FILE=$ENV_FILE   # core's config reads this file (the environment wins anyway)

  # ---- 4. migrations
  run_migrate

  # ---- 5. FastCGI handlers: listening socket on fd 0, stderr into logs/chat-NAME.log
  local h
  for h in "${HANDLERS[@]}"; do
    STEP=chat-$h STEP_LOG=$LOGS/chat-$h.log
    rm -f "$SOCKS/$h.sock" "$PIDS/chat-$h.pid"
    # spawn-fcgi points the children's stdout/stderr at /dev/null: the sh wrapper re-opens them on the log, then execs.
    (cd "$RUN" && exec spawn-fcgi -s "$SOCKS/$h.sock" -M 0666 -F "$HANDLER_PROCS" -P "$PIDS/chat-$h.pid" -- \
      /bin/sh -c 'exec "$0" >>"$1" 2>&1' "$BUILD/chat-$h" "$STEP_LOG") </dev/null >>"$STEP_LOG" 2>&1 9>&- ||
      fail "$STEP" "$STEP_LOG" "spawn-fcgi failed"
  done
  sleep 0.2
  check_handlers

  # ---- 5b. workers: WORKER_PROCS chat-worker daemons (job queue consumers; periodic jobs once across them)
  for ((i = 1; i <= WORKER_PROCS; i++)); do
    STEP=chat-worker-$i STEP_LOG=$LOGS/chat-worker-$i.log
    start_daemon "chat-worker-$i" "$BUILD/chat-worker"
  done

  # ---- 5c. realtime: REALTIME_PROCS chat-realtime daemons on their own ports, behind nginx's upstream
  start_realtime

  # ---- 6. nginx
  STEP=nginx STEP_LOG=$LOGS/nginx-error.log
  render_nginx
  local out
  out=$(nginx -t -q -e "$STEP_LOG" -p "$NGINX_PREFIX/" -c conf/nginx.conf 2>&1 9>&-) || {
    echo "$out" >>"$STEP_LOG"
    fail "$STEP" "$STEP_LOG" "nginx -t rejected $NGINX_PREFIX/conf/nginx.conf"
  }
  nginx -e "$STEP_LOG" -p "$NGINX_PREFIX/" -c conf/nginx.conf </dev/null >>"$STEP_LOG" 2>&1 9>&- ||
    fail "$STEP" "$STEP_LOG" "nginx did not start"

  # ---- 7. ready when /health says 200
  STEP=health STEP_LOG=""
  local code=000
  for ((i = 0; i < 300; i++)); do
    code=$(curl -s --noproxy '*' -m 2 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/health" 2>/dev/null) || code=000
    [[ $code == 200 ]] && break
    sleep 0.1
  done
  if [[ $code != 200 ]]; then
    fail "$STEP" "" "GET http://127.0.0.1:$PORT/health answered $code, not 200, for 30 s: $(curl -s --noproxy '*' -m 2 \
      "http://127.0.0.1:$PORT/health" 2>&1 | head -c 300)"
  fi
  check_handlers
  stack_running || fail nginx "$LOGS/nginx-error.log" "nginx is not running"

  UP_DONE=1
  trap - EXIT INT TERM
  flock -u 9
  exec 9>&-
  echo "chat stack ready: http://127.0.0.1:$PORT (run dir $RUN)"
}

# start_realtime: chat-realtime-1..N on the ports chosen for chat.env; ready when each answers /metrics
start_realtime() {
  local conf=$NGINX_PREFIX/conf/realtime_upstream.conf i k p code
  {
    echo "# generated by deploy/stack.sh: one line per chat-realtime daemon"
    ((${#REALTIME_PORT_LIST[@]})) || echo "server 127.0.0.1:9 down;   # REALTIME_PROCS=0: /ws answers 502"
  } >"$conf"
  for ((i = 1; i <= ${#REALTIME_PORT_LIST[@]}; i++)); do
    p=${REALTIME_PORT_LIST[i - 1]}
    STEP=chat-realtime-$i STEP_LOG=$LOGS/chat-realtime-$i.log
    [[ -z $(ss -Hltn "sport = :$p") ]] || fail "$STEP" "" "port $p was taken meanwhile; run up again"
    start_daemon "chat-realtime-$i" "$BUILD/chat-realtime" --port "$p"
    echo "server 127.0.0.1:$p;" >>"$conf"
  done
  for ((i = 1; i <= ${#REALTIME_PORT_LIST[@]}; i++)); do
    p=${REALTIME_PORT_LIST[i - 1]}
    STEP=chat-realtime-$i STEP_LOG=$LOGS/chat-realtime-$i.log
    code=000
    for ((k = 0; k < 100; k++)); do
      code=$(curl -s --noproxy '*' -m 1 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$p/metrics" 2>/dev/null) || code=000
      [[ $code == 200 ]] && break
      pid_alive "$(read_pids "$PIDS/chat-realtime-$i.pid" | head -n1)" || break
      sleep 0.1
    done
    [[ $code == 200 ]] || fail "$STEP" "$STEP_LOG" "chat-realtime-$i does not answer on 127.0.0.1:$p"
  done
}

check_handlers() {                # every spawned handler process is still alive
  local h p n
  for h in "${HANDLERS[@]}"; do
    n=0
    for p in $(read_pids "$PIDS/chat-$h.pid"); do pid_alive "$p" && n=$((n + 1)); done
    ((n == HANDLER_PROCS)) || fail "chat-$h" "$LOGS/chat-$h.log" "$n of $HANDLER_PROCS chat-$h processes are running"
  done
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

render_nginx() {
  local conf=$NGINX_PREFIX/conf f
  cp /etc/nginx/fastcgi_params /etc/nginx/mime.types "$conf/"
  write_cors_map "$conf/cors_origins.map"
  export CHAT_LISTEN_ADDR=127.0.0.1 CHAT_HTTP_PORT=$PORT CHAT_SOCK_DIR=$SOCKS CHAT_LOG_DIR=$LOGS CHAT_PID_DIR=$PIDS \
    CHAT_NGINX_TEMP_DIR=$NGINX_PREFIX/tmp REPO_DIR CHAT_RUN_DIR=$RUN RATE_LIMIT_AUTH RATE_LIMIT_AUTH_BURST
  if ((IS_ROOT)); then
    export CHAT_NGINX_USER="nobody nogroup"
  else
    CHAT_NGINX_USER="$(id -un) $(id -gn)"   # ignored (with a warning) when nginx is not root
    export CHAT_NGINX_USER
  fi
  local vars='${CHAT_LISTEN_ADDR} ${CHAT_HTTP_PORT} ${CHAT_SOCK_DIR} ${CHAT_LOG_DIR} ${CHAT_PID_DIR} ${CHAT_NGINX_TEMP_DIR}
    ${CHAT_NGINX_USER} ${RATE_LIMIT_AUTH} ${RATE_LIMIT_AUTH_BURST} ${REPO_DIR} ${CHAT_RUN_DIR}'
  envsubst "$vars" <"$REPO_DIR/nginx/nginx.conf.template" >"$conf/nginx.conf"
  for f in "$REPO_DIR"/nginx/*.conf; do
    envsubst "$vars" <"$f" >"$conf/$(basename "$f")"
  done
  if grep -nE '\$\{[A-Z_]+\}' "$conf"/*.conf | grep -v '^[^:]*:[0-9]*:[[:space:]]*#' >&2; then
    fail nginx "" "the nginx template uses a variable stack.sh does not substitute (above)"
  fi
}

# ------------------------------------------------------------------------------------------------
# down

do_down() {
  [[ -d $RUN ]] || return 0
  local p pids f
  # 1. nginx: graceful quit, KILL (master and workers) after STOP_WAIT
  p=$(read_pids "$NGINX_PID" | head -n1)
  if [[ -n $p ]] && pid_ours "$p"; then
    mapfile -t pids < <(children_of "$p")
    kill -QUIT "$p" 2>/dev/null || true
    if ! wait_gone "$STOP_WAIT" "$p"; then
      echo "stack.sh: nginx $p did not quit within ${STOP_WAIT}s: KILL" >&2
      kill -KILL "$p" 2>/dev/null || true
    fi
    for f in "${pids[@]}"; do pid_alive "$f" && kill -KILL "$f" 2>/dev/null; done
    wait_gone 2 "$p" "${pids[@]}" || true
  fi
  rm -f "$NGINX_PID"

  # 2. handlers, then 3. start_daemon programs (every other pid file)
  local h
  for h in "${HANDLERS[@]}"; do stop_pidfile TERM "$PIDS/chat-$h.pid"; done
  for f in "$PIDS"/*.pid; do
    [[ -e $f ]] || continue
    [[ $f == "$NGINX_PID" || $f == "$REDIS_PID" ]] && continue
    stop_pidfile TERM "$f"
  done
  rm -f "$SOCKS"/*.sock

  # 4. redis
  if [[ -S $REDIS_SOCK ]]; then
    redis-cli -s "$REDIS_SOCK" shutdown nosave >/dev/null 2>&1 || true
  fi
  p=$(read_pids "$REDIS_PID" | head -n1)
  if [[ -n $p ]]; then
    wait_gone "$STOP_WAIT" "$p" || stop_pids TERM "$p"
  fi
  rm -f "$REDIS_PID" "$REDIS_SOCK"

  # 5. postgres
  if [[ -f $RUN/pg/postmaster.pid ]]; then
    p=$(head -n1 "$RUN/pg/postmaster.pid" 2>/dev/null || true)
    if [[ -n $p ]] && pid_alive "$p"; then
      as_pg "$PGBIN/pg_ctl" -D "$RUN/pg" -m fast -w -t 20 -s stop </dev/null >/dev/null 2>&1 9>&- ||
        as_pg "$PGBIN/pg_ctl" -D "$RUN/pg" -m immediate -w -t 10 -s stop </dev/null >/dev/null 2>&1 9>&- || true
      if pid_alive "$p"; then
        echo "stack.sh: postgres $p did not stop: KILL" >&2
        mapfile -t pids < <(children_of "$p")
        kill -KILL "$p" "${pids[@]}" 2>/dev/null || true
        wait_gone 2 "$p" || true
      fi
    fi
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

RUN_TAIL_PID="" RUN_STOPPING=0
stop_run() {
  ((RUN_STOPPING)) && return 0
  RUN_STOPPING=1
  trap '' INT TERM
  # The follower and the wait loop's sleep (also one forked just before the signal): nothing outlives
  # run. `|| true`: under set -e a failed kill of a job that just ended would abort before `down`.
  local job
  for job in ${RUN_TAIL_PID:-} ${RUN_SLEEP_PID:-} $(jobs -p); do kill "$job" 2>/dev/null || true; done
  echo "stack.sh: stopping the chat stack" >&2
  cmd_down
  echo "stack.sh: chat stack stopped" >&2
}

cmd_run() {
  cmd_up
  trap 'stop_run; exit 0' INT TERM
  trap 'stop_run' EXIT
  tail -n 0 -F "$LOGS"/*.log &
  RUN_TAIL_PID=$!
  while stack_running; do
    sleep 1 &
    RUN_SLEEP_PID=$!
    wait $RUN_SLEEP_PID || true
  done
  echo "stack.sh: nginx is gone; stopping the rest" >&2
  exit 0
}

cmd_status() {
  local all=0 p pids n h f name
  line() { printf '%-14s %s\n' "$1" "$2"; }
  if [[ -f $RUN/pg/postmaster.pid ]] && p=$(head -n1 "$RUN/pg/postmaster.pid") && pid_alive "$p"; then
    line postgres "pid $p"; else line postgres down; all=3; fi
  p=$(read_pids "$REDIS_PID" | head -n1)
  if [[ -n $p ]] && pid_ours "$p"; then line redis "pid $p"; else line redis down; all=3; fi
  for h in "${HANDLERS[@]}"; do
    pids=() n=0
    for p in $(read_pids "$PIDS/chat-$h.pid"); do pid_ours "$p" && pids+=("$p"); done
    if ((${#pids[@]})); then line "chat-$h" "pid ${pids[*]}"; else line "chat-$h" down; all=3; fi
  done
  for f in "$PIDS"/*.pid; do
    [[ -e $f ]] || continue
    name=$(basename "$f" .pid)
    [[ $name == nginx || $name == redis ]] && continue
    [[ " ${HANDLERS[*]/#/chat-} " == *" $name "* ]] && continue
    p=$(read_pids "$f" | head -n1)
    if [[ -n $p ]] && pid_ours "$p"; then line "$name" "pid $p"; else line "$name" down; all=3; fi
  done
  p=$(read_pids "$NGINX_PID" | head -n1)
  if [[ -n $p ]] && pid_ours "$p"; then
    line nginx "pid $p http://127.0.0.1:$(env_value CHAT_HTTP_PORT)"
  else line nginx down; all=3; fi
  return $all
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

# defaults of the settings read by `up`
: "${ENVIRONMENT:=development}"
: "${BACKEND_CORS_ORIGINS:=http://localhost:3000,http://127.0.0.1:3000}"
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
  *) echo "usage: $0 up|down|run|status|env|migrate" >&2; exit 2 ;;
esac
