#!/usr/bin/env bash
# A local redis-server for several photoshare instances sharing decisions and limits.
#   scripts/redis.sh start [PORT]   start on 127.0.0.1:PORT (default 6390), data and pid under var/redis
#   scripts/redis.sh stop           stop it (it writes its append-only file first)
#   scripts/redis.sh status         say whether it runs, and its URL
# Then: HARVESTGUARD_REDIS_URL=redis://127.0.0.1:PORT/0 photoshare serve ...
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
dir="${REDIS_DIR:-$root/var/redis}"
pidfile="$dir/redis.pid"
portfile="$dir/redis.port"

running() { [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; }

case "${1:-}" in
  start)
    port="${2:-6390}"
    if running; then echo "redis already runs: redis://127.0.0.1:$(cat "$portfile")/0"; exit 0; fi
    command -v redis-server >/dev/null || { echo "redis-server is missing: make system" >&2; exit 1; }
    mkdir -p "$dir"
    redis-server --bind 127.0.0.1 --port "$port" --dir "$dir" --appendonly yes --save "" \
      --protected-mode yes --daemonize yes --pidfile "$pidfile" --logfile "$dir/redis.log"
    echo "$port" > "$portfile"
    for _ in $(seq 50); do
      if redis-cli -h 127.0.0.1 -p "$port" ping 2>/dev/null | grep -q PONG; then
        echo "redis://127.0.0.1:$port/0"; exit 0
      fi
      sleep 0.1
    done
    echo "redis did not start; see $dir/redis.log" >&2; exit 1
    ;;
  stop)
    if ! running; then echo "redis is not running"; exit 0; fi
    pid="$(cat "$pidfile")"
    kill "$pid"
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || { rm -f "$pidfile"; echo "stopped"; exit 0; }; sleep 0.1; done
    echo "redis (pid $pid) did not stop" >&2; exit 1
    ;;
  status)
    if running; then echo "running: redis://127.0.0.1:$(cat "$portfile")/0"; else echo "not running"; exit 3; fi
    ;;
  *)
    echo "usage: $0 start [PORT] | stop | status" >&2; exit 2
    ;;
esac
