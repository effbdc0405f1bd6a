#!/usr/bin/env bash
# The cluster test (make test-cluster): simulated hosts on one machine, each an `ip netns` namespace with a veth
# to a bridge in a switch namespace, 10.77.0.0/24. Two application hosts run the dev stack in its external mode
# against a database host (PostgreSQL primary), a replica host (PostgreSQL streaming replica, Redis replica) and
# a Redis host (the Redis primary), with a Sentinel on each of those three; a client host runs the driver
# (drive.py), which sends and reads through both application hosts while it breaks things, one at a time.
#
# usage: tests/cluster/run.sh              (root; CHAT_BUILD_DIR: the build whose programs run, default build/)
#        tests/cluster/run.sh _action TMP ACTION...   (the driver's way to act on a host: see do_action)
#
# Layout (README.md beside this file):
#   chatc-sw      bridge chatc-br; the switch side of every host's veth (chatc-s-HOST)
#   chatc-data    10.77.0.11  PostgreSQL primary, Sentinel
#   chatc-replica 10.77.0.12  PostgreSQL replica (pg_basebackup -R), Redis replica, Sentinel
#   chatc-redis   10.77.0.13  Redis primary, Sentinel
#   chatc-app-a   10.77.0.21  deploy/stack.sh up (external services; runs the migrations), nginx on :8080
#   chatc-app-b   10.77.0.22  deploy/stack.sh up (external services), nginx on :8080
#   chatc-client  10.77.0.30  tests/cluster/drive.py
# Every process is started inside its host's namespace with `ip netns exec`; the EXIT trap stops them all and
# removes the namespaces (their veths go with them), then checks that nothing is left.
set -euo pipefail

PATH=$PATH:/usr/sbin:/sbin
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
REPO_DIR=$(cd "$HERE/../.." && pwd -P)
PGBIN=/usr/lib/postgresql/15/bin
PY=/usr/bin/python3                 # the system python: it has httpx and websockets
NET=10.77.0
HOSTS=(data replica redis app-a app-b client)
declare -A IP=([data]=$NET.11 [replica]=$NET.12 [redis]=$NET.13 [app-a]=$NET.21 [app-b]=$NET.22 [client]=$NET.30)
REDIS_PASS=chatc-redis-secret       # requirepass of both Redis servers (and masterauth: either may be the master)
SENTINELS="$NET.11:26379,$NET.12:26379,$NET.13:26379"
START=$(date +%s)

say() { printf '[cluster %3ds] %s\n' "$(($(date +%s) - START))" "$*"; }
die() { say "FAILED: $*" >&2; exit 1; }
in_ns() { local h=$1; shift; ip netns exec "chatc-$h" "$@"; }
as_pg() { setpriv --reuid=postgres --regid=postgres --init-groups -- "$@"; }

# ------------------------------------------------------------------------------------------------
# the hosts' services: each function is also an action of the driver (`run.sh _action TMP NAME`)

# PostgreSQL as the postgres user (it refuses root), detached by pg_ctl: its postmaster lives on in the host's
# namespace and is found again by its data directory.
pg_start() {                        # pg_start HOST DATADIR
  local h=$1 dir=$2
  in_ns "$h" setpriv --reuid=postgres --regid=postgres --init-groups -- "$PGBIN/pg_ctl" -D "$dir" -w -t 60 \
    -l "$TMP/logs/postgres-$h.log" start >/dev/null
}

pg_stop() {                         # pg_stop HOST DATADIR [MODE]
  local h=$1 dir=$2 mode=${3:-fast}
  [[ -f $dir/postmaster.pid ]] || return 0
  in_ns "$h" setpriv --reuid=postgres --regid=postgres --init-groups -- "$PGBIN/pg_ctl" -D "$dir" -w -t 30 \
    -m "$mode" stop >/dev/null
}

# Redis and the Sentinels run in the foreground of a setsid'd child (no daemonize: the pid file is ours, written
# before exec, and a kill -9 leaves no pid file that could name someone else later).
redis_start() {                     # redis_start HOST NAME [--sentinel]
  local h=$1 name=$2; shift 2
  in_ns "$h" setsid bash -c 'echo $$ >"$1"; exec redis-server "$2" "${@:3}"' _ \
    "$TMP/$name.pid" "$TMP/$name/redis.conf" "$@" </dev/null >>"$TMP/logs/$name.log" 2>&1 &
  local i auth=()
  [[ $name == sentinel-* ]] || auth=(-a "$REDIS_PASS" --no-auth-warning)   # the Sentinels have no password
  for ((i = 0; i < 100; i++)); do
    [[ -s $TMP/$name.pid ]] && in_ns "$h" redis-cli -h "${IP[$h]}" -p "$(port_of "$name")" "${auth[@]}" \
      ping 2>/dev/null | grep -q PONG && return 0
    sleep 0.1
  done
  die "$name on $h does not answer PING (log: $TMP/logs/$name.log)"
}
port_of() { [[ $1 == sentinel-* ]] && echo 26379 || echo 6379; }

do_action() {
  case $1 in
    redis-kill)                     # kill -9 the Redis primary (what a crashed host looks like to the others)
      kill -9 "$(<"$TMP/redis-primary.pid")"
      rm -f "$TMP/redis-primary.pid" ;;
    redis-restart)                  # redis-restart MASTER-IP: the old primary's host is back, as a replica
      # of the new master, as its configuration management would start it. (Started as it was, a master, it
      # waits for Sentinel's next look at it, up to 10 s, to be made a replica; until then the new master has no
      # replica, and every WAIT of the outbox relay (REDIS_WAIT_REPLICAS=1) waits for nothing.)
      echo "replicaof ${2:?} 6379" >>"$TMP/redis-primary/redis.conf"
      redis_start redis redis-primary ;;
    pg-replica-stop)
      pg_stop replica "$TMP/pg-replica" fast ;;
    link-down)                      # link-down HOST: its veth down, inside the host (a pulled cable)
      in_ns "$2" ip link set "chatc-h-$2" down ;;
    *) echo "run.sh _action: unknown action '$1'" >&2; exit 2 ;;
  esac
}

if [[ ${1:-} == _action ]]; then
  TMP=${2:?}
  shift 2
  do_action "$@"
  exit 0
fi

# ------------------------------------------------------------------------------------------------
# preconditions

((EUID == 0)) || die "run as root (ip netns, veths, PostgreSQL as the postgres user)"
BUILD=$(realpath -m "${CHAT_BUILD_DIR:-$REPO_DIR/build}")
for f in chat-migrate chat-worker chat-realtime chat-groups.txt; do
  [[ -e $BUILD/$f ]] || die "missing $BUILD/$f (build first, or set CHAT_BUILD_DIR)"
done
for tool in ip redis-server redis-cli psql "$PGBIN/initdb" "$PGBIN/pg_ctl" "$PGBIN/pg_basebackup" setpriv setsid; do
  command -v "$tool" >/dev/null || die "missing program: $tool"
done
$PY -c 'import httpx, websockets' || die "$PY lacks httpx or websockets (apt-get install python3-httpx python3-websockets)"
if ip netns list | grep -q '^chatc-' || ip -o link show | grep -q ' chatc-'; then
  die "chatc- namespaces or links exist already (another run, or a crashed one: ip netns list; ip link): not touching them"
fi

# A run dir path is short (unix socket paths) and traversable by postgres and nginx's nobody.
TMP=$(mktemp -d /tmp/chatc.XXXXXX)
chmod 755 "$TMP"
mkdir -p "$TMP/logs"
chmod 777 "$TMP/logs"               # PostgreSQL (the postgres user) writes its log here too
RC=1

# ------------------------------------------------------------------------------------------------
# cleanup: on any exit

leftovers() {                       # every process whose command line or working directory is in $TMP
  {
    # [/]: the pattern itself is not in grep's own command line
    grep -lsa -- "${TMP//./\\.}[/]" /proc/[0-9]*/cmdline | cut -d/ -f3
    find /proc -mindepth 2 -maxdepth 2 -name cwd -lname "$TMP*" 2>/dev/null | cut -d/ -f3
  } | grep -vx -e "$$" -e "$BASHPID" | sort -u
  return 0
}

cleanup() {
  local rc=$? h p pids left
  trap - EXIT INT TERM
  ((rc == 0)) && rc=$RC
  set +e
  say "cleaning up"
  # the stacks first (supervisord stops its programs in order), then the data services
  local downs=()
  # links back up first: a host cut off by fault 3 would otherwise wait for its clients' sockets to time out
  for h in "${HOSTS[@]}"; do
    ip netns list | grep -q "^chatc-$h\b" && in_ns "$h" ip link set "chatc-h-$h" up 2>/dev/null
  done
  say "stopping the application hosts"
  for h in app-a app-b; do         # both at once: each waits for its programs to stop
    [[ -d $TMP/$h ]] || continue
    CHAT_RUN_DIR=$TMP/$h CHAT_BUILD_DIR=$BUILD in_ns "$h" "$REPO_DIR/deploy/stack.sh" down \
      >>"$TMP/logs/stack-down-$h.log" 2>&1 &
    downs+=($!)
  done
  ((${#downs[@]})) && wait "${downs[@]}"
  say "stopping the data hosts"
  pg_stop replica "$TMP/pg-replica" immediate 2>/dev/null
  pg_stop data "$TMP/pg-primary" immediate 2>/dev/null
  for p in "$TMP"/*.pid; do
    [[ -f $p ]] && kill -9 "$(<"$p")" 2>/dev/null
  done
  # whatever still runs in one of our namespaces is ours (nothing else was started in them)
  for h in "${HOSTS[@]}" sw; do
    ip netns list | grep -q "^chatc-$h\b" || continue
    mapfile -t pids < <(ip netns pids "chatc-$h" 2>/dev/null)
    ((${#pids[@]})) && { say "killing what is left in chatc-$h: ${pids[*]}"; kill -9 "${pids[@]}" 2>/dev/null; }
  done
  sleep 0.2
  say "removing the namespaces"
  for h in "${HOSTS[@]}" sw; do
    ip netns del "chatc-$h" 2>/dev/null
  done
  # the check: nothing of ours may remain
  local bad=""
  ip netns list | grep -q '^chatc-' && bad+=" namespaces: $(ip netns list | grep '^chatc-' | tr '\n' ' ')"
  ip -o link show | grep -q ' chatc-' && bad+=" links: $(ip -o link show | grep -o ' chatc-[^:@]*' | tr '\n' ' ')"
  for ((p = 0; p < 30; p++)); do
    left=$(leftovers)
    [[ -z $left ]] && break
    sleep 0.2
  done
  [[ -n $left ]] && bad+=" processes: $(echo "$left" | tr '\n' ' ')"
  if [[ -n $bad ]]; then
    say "FAILED: left behind:$bad"
    rc=1
  fi
  if ((rc == 0)) && [[ -z ${CHATC_KEEP_LOGS:-} ]]; then
    rm -rf "$TMP"
    say "PASSED in $(($(date +%s) - START)) s"
  else
    # the logs stay for a look: run dirs' logs/ and $TMP/logs
    local keep
    keep=/tmp/chatc-logs.$(date +%s)
    mkdir -p "$keep"
    cp -r "$TMP/logs" "$keep/hosts" 2>/dev/null
    for h in app-a app-b; do [[ -d $TMP/$h/logs ]] && cp -r "$TMP/$h/logs" "$keep/$h"; done
    [[ -f $TMP/result.json ]] && cp "$TMP/result.json" "$keep/"
    rm -rf "$TMP"
    if ((rc == 0)); then say "PASSED in $(($(date +%s) - START)) s; logs kept in $keep"
    else say "FAILED (exit $rc) after $(($(date +%s) - START)) s; logs kept in $keep"; fi
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ------------------------------------------------------------------------------------------------
# 1. the network: a bridge in a switch namespace, a veth to it from each host

say "network: ${#HOSTS[@]} hosts on $NET.0/24 (temp dir $TMP)"
ip netns add chatc-sw
in_ns sw ip link set lo up
in_ns sw ip link add chatc-br type bridge
in_ns sw ip link set chatc-br up
for h in "${HOSTS[@]}"; do
  ip netns add "chatc-$h"
  # both ends are made inside the namespaces: nothing of the test is ever in the machine's own
  ip link add "chatc-h-$h" netns "chatc-$h" type veth peer name "chatc-s-$h" netns chatc-sw
  in_ns sw ip link set "chatc-s-$h" master chatc-br up
  in_ns "$h" ip link set lo up
  in_ns "$h" ip addr add "${IP[$h]}/24" dev "chatc-h-$h"
  in_ns "$h" ip link set "chatc-h-$h" up
done
# (no ping on this machine: the first connections below, pg_basebackup and the Sentinels, prove the links)

# ------------------------------------------------------------------------------------------------
# 2. PostgreSQL: the primary on data, durable (fsync on), streaming to the replica

say "postgres: primary on data, replica on replica"
install -d -o postgres -g postgres -m 700 "$TMP/pg-primary"
as_pg "$PGBIN/initdb" -N -D "$TMP/pg-primary" -U postgres -A trust -E UTF8 --locale=C.UTF-8 >>"$TMP/logs/initdb.log" 2>&1 ||
  die "initdb failed ($TMP/logs/initdb.log)"
install -d -o postgres -g postgres -m 755 "$TMP/pgsock-data" "$TMP/pgsock-replica"
# Trust on the private subnet (nothing else reaches these namespaces): the application and owner roles, and
# replication for pg_basebackup and the standby.
cat >>"$TMP/pg-primary/pg_hba.conf" <<EOF
host all all $NET.0/24 trust
host replication all $NET.0/24 trust
EOF
cat >>"$TMP/pg-primary/postgresql.conf" <<EOF
listen_addresses = '${IP[data]}'
unix_socket_directories = '$TMP/pgsock-data'
wal_level = replica
fsync = on
synchronous_commit = on
max_wal_senders = 5
hot_standby = on
max_connections = 200
# An application host that drops off the network (fault 3) leaves its sessions behind, and one of them may hold
# a conversation's advisory lock (a send's outbox relay, mid-transaction): every send to that conversation, from
# every host, then waits for it. The kernel would keep the session for hours (2 h before the first keepalive, or
# some 15 min of retransmissions when the server's last answer was never acknowledged): keepalives and a TCP
# user timeout end it in about 5 s.
tcp_keepalives_idle = 2
tcp_keepalives_interval = 1
tcp_keepalives_count = 3
tcp_user_timeout = 5000
EOF
pg_start data "$TMP/pg-primary" || die "the primary did not start ($TMP/logs/postgres-data.log)"
in_ns data "$REPO_DIR/deploy/stack.sh" setup-db -h "${IP[data]}" -U postgres >>"$TMP/logs/setup-db.log" 2>&1 ||
  die "stack.sh setup-db failed ($TMP/logs/setup-db.log)"
install -d -o postgres -g postgres -m 700 "$TMP/pg-replica"
in_ns replica setpriv --reuid=postgres --regid=postgres --init-groups -- "$PGBIN/pg_basebackup" -h "${IP[data]}" \
  -U postgres -D "$TMP/pg-replica" -R -X stream -c fast -N >>"$TMP/logs/basebackup.log" 2>&1 ||
  die "pg_basebackup failed ($TMP/logs/basebackup.log)"
# The replica applies each commit 50 ms late: a replica on a LAN is a millisecond behind, and a sender reading
# its own message back at once would find it there even with no read-your-writes rule at all. 50 ms behind, the
# sender's read must go to the primary (the driver checks it gets its message), while the other users' reads,
# whose last writes are older, are served by the replica (within REPLICA_MAX_LAG_MS).
cat >>"$TMP/pg-replica/postgresql.conf" <<EOF
listen_addresses = '${IP[replica]}'
unix_socket_directories = '$TMP/pgsock-replica'
recovery_min_apply_delay = '50ms'
EOF
pg_start replica "$TMP/pg-replica" || die "the replica did not start ($TMP/logs/postgres-replica.log)"
for ((i = 0; i < 100; i++)); do
  [[ $(in_ns data psql -qAtX -h "${IP[data]}" -U postgres -d postgres \
    -c "SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming'" 2>/dev/null) == 1 ]] && break
  sleep 0.1
done
((i < 100)) || die "the replica does not stream from the primary"

# ------------------------------------------------------------------------------------------------
# 3. Redis: the primary on redis, its replica on replica, a Sentinel on data, replica and redis

say "redis: primary on redis, replica on replica, Sentinels on data, replica, redis"
redis_conf() {                      # redis_conf NAME HOST [EXTRA LINES]
  mkdir -p "$TMP/$1"
  cat >"$TMP/$1/redis.conf" <<EOF
bind ${IP[$2]} 127.0.0.1
port 6379
protected-mode no
requirepass $REDIS_PASS
masterauth $REDIS_PASS
dir $TMP/$1
save ""
appendonly yes
appendfsync everysec
# a replica that (re)joins is synced at once, not after the default 5 s of waiting for others to share the
# transfer: until then the new master of a failover has no replica, and the outbox relay's WAIT gets nothing
repl-diskless-sync-delay 0
${3:-}
EOF
}
redis_conf redis-primary redis
redis_conf redis-replica replica "replicaof ${IP[redis]} 6379"
redis_start redis redis-primary
redis_start replica redis-replica
for h in data replica redis; do
  mkdir -p "$TMP/sentinel-$h"
  # Sentinel rewrites its file (what it learns about the others): a copy per Sentinel, in its own dir
  cat >"$TMP/sentinel-$h/redis.conf" <<EOF
bind ${IP[$h]} 127.0.0.1
port 26379
protected-mode no
dir $TMP/sentinel-$h
sentinel monitor chat ${IP[redis]} 6379 2
sentinel auth-pass chat $REDIS_PASS
sentinel down-after-milliseconds chat 1500
sentinel failover-timeout chat 4000
sentinel parallel-syncs chat 1
EOF
  redis_start "$h" "sentinel-$h" --sentinel
done
for ((i = 0; i < 100; i++)); do
  n=$(in_ns client redis-cli -h "${IP[data]}" -p 26379 sentinel master chat 2>/dev/null |
    awk 'p {print; exit} $0 == "num-other-sentinels" {p = 1}')
  r=$(in_ns client redis-cli -h "${IP[data]}" -p 26379 sentinel master chat 2>/dev/null |
    awk 'p {print; exit} $0 == "num-slaves" {p = 1}')
  [[ $n == 2 && $r == 1 ]] && break
  sleep 0.2
done
((i < 100)) || die "the Sentinels do not see each other and the replica (other sentinels: ${n:-?}, replicas: ${r:-?})"
[[ ${CHATC_STOP_AFTER:-} == data ]] && { RC=0; exit 0; }   # the data hosts alone (when working on this script)

# ------------------------------------------------------------------------------------------------
# 4. the application hosts: the dev stack in external mode, app-a migrating

export JWT_SECRET_KEY
JWT_SECRET_KEY=$(head -c 48 /dev/urandom | base64 -w0)   # one secret for both hosts: each checks the other's tokens
app_up() {                          # app_up HOST MIGRATE
  local h=$1
  say "app: deploy/stack.sh up on $h (external services, migrations: $2)"
  in_ns "$h" env CHAT_RUN_DIR="$TMP/$h" CHAT_BUILD_DIR="$BUILD" CHAT_EXTERNAL_SERVICES=1 CHAT_MIGRATE="$2" \
    CHAT_HTTP_ADDR="${IP[$h]}" CHAT_HTTP_PORT=8080 \
    DATABASE_URL="postgresql://chat_app@${IP[data]}:5432/chat" \
    MIGRATE_DATABASE_URL="postgresql://chat_owner@${IP[data]}:5432/chat" \
    DATABASE_REPLICA_URL="postgresql://chat_app@${IP[replica]}:5432/chat" \
    REDIS_URL="redis://:$REDIS_PASS@${IP[redis]}:6379/0" REDIS_SENTINELS="$SENTINELS" REDIS_MASTER_NAME=chat \
    HANDLER_PROCS=2 HANDLER_THREADS=2 REALTIME_PROCS=1 WORKER_PROCS=1 \
    RATE_LIMIT_SEND=100 RATE_LIMIT_SEND_BURST=200 RATE_LIMIT_AUTH=50 RATE_LIMIT_AUTH_BURST=100 \
    "$REPO_DIR/deploy/stack.sh" up >>"$TMP/logs/stack-up-$h.log" 2>&1 || {
      tail -n 40 "$TMP/logs/stack-up-$h.log" >&2
      die "stack.sh up on $h failed"
    }
}
app_up app-a 1
app_up app-b 0
for h in app-a app-b; do
  code=$(in_ns client curl -s --noproxy '*' -m 3 -o /dev/null -w '%{http_code}' "http://${IP[$h]}:8080/health") || true
  [[ $code == 200 ]] || die "the client gets $code from http://${IP[$h]}:8080/health"
done

[[ ${CHATC_STOP_AFTER:-} == apps ]] && { RC=0; exit 0; }

# After a failed run, before anything is stopped (app-a's link is still down after fault 3: its sessions on the
# primary look idle to PostgreSQL): the primary's sessions and locks, who holds each connection, and the stack of
# every thread of the application hosts' chat programs, for the report.
diagnostics() {
  echo "==== pg_stat_activity on the primary ($(date -u +%T))"
  in_ns client psql -X -h "${IP[data]}" -U postgres -d chat -c "SELECT pid, usename, client_addr, client_port, state,
    wait_event_type, wait_event, round(extract(epoch FROM now() - xact_start)::numeric, 1) AS xact_s,
    left(regexp_replace(query, '\s+', ' ', 'g'), 100) AS query FROM pg_stat_activity WHERE datname = 'chat'
    ORDER BY xact_start NULLS LAST"
  echo "==== waiting locks"
  in_ns client psql -X -h "${IP[data]}" -U postgres -d chat -c "SELECT pid, locktype, mode, relation::regclass,
    pg_blocking_pids(pid) AS blocked_by FROM pg_locks WHERE NOT granted"
  local h p comm
  for h in app-a app-b; do         # which process holds which connection to the primary (client_port above)
    echo "==== $h: connections to the primary"
    in_ns "$h" ss -Htnp "dst ${IP[data]}:5432"
    # a connect that timed out: a full accept queue drops SYNs (Recv-Q of a listener is its accept queue)
    echo "==== $h: listeners and dropped connects"
    in_ns "$h" ss -Hltn
    in_ns "$h" nstat -az TcpExtListenOverflows TcpExtListenDrops TcpExtTCPReqQFullDrop
  done
  command -v gdb >/dev/null || { echo "(no gdb: no stacks)"; return 0; }
  for h in app-a app-b; do
    for p in $(ip netns pids "chatc-$h"); do
      comm=$(cat "/proc/$p/comm" 2>/dev/null) || continue
      [[ $comm == chat-* ]] || continue
      echo "==== $h $comm pid $p"
      timeout 30 gdb -p "$p" -batch -nx -ex 'set pagination off' -ex 'thread apply all bt 25' 2>&1 |
        grep -E '^(Thread|#)' | head -n 200
    done
  done
}

# ------------------------------------------------------------------------------------------------
# 5. the driver, on the client host

say "driver: traffic through both application hosts, then the faults"
set +e
# CHATC_DRIVE_ARGS: more options of drive.py (--users, --rate, --before, --after...)
# bounded: make test-cluster must end within 6 minutes, cleanup included, whatever the programs do
in_ns client env CHATC_TMP="$TMP" CHATC_RUN="$HERE/run.sh" CHATC_REDIS_PASS="$REDIS_PASS" \
  timeout -k 5 200 "$PY" "$HERE/drive.py" \
  --app "http://${IP[app-a]}:8080" --app "http://${IP[app-b]}:8080" \
  --primary "${IP[data]}" --replica "${IP[replica]}" --sentinels "$SENTINELS" --old-redis "${IP[redis]}" \
  --result "$TMP/result.json" ${CHATC_DRIVE_ARGS:-}
RC=$?
set -e
if ((RC != 0)); then
  say "the driver failed (exit $RC); what the primary and the handlers are doing: $TMP/logs/diagnostics.txt"
  diagnostics >"$TMP/logs/diagnostics.txt" 2>&1 || true
fi
exit "$RC"
