#!/usr/bin/env bash
# Starts the web server, a Celery worker and Celery beat together; Ctrl-C
# stops all three. The default broker is a folder (no Redis needed).
set -euo pipefail
cd "$(dirname "$0")/.."
HOST="${HOST:-127.0.0.1}"
PORT="${PORT:-8000}"
BIN=.venv/bin
mkdir -p var/celery/queue var/celery/processed var/log

pids=()
cleanup() {
    trap - INT TERM EXIT
    echo
    echo "Stopping web server, worker and beat..."
    for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
}
trap cleanup INT TERM EXIT

$BIN/celery -A portal worker --loglevel=INFO --concurrency=2 \
    --without-mingle --without-gossip --pool=prefork >var/log/worker.log 2>&1 &
pids+=($!)
$BIN/celery -A portal beat --loglevel=INFO --pidfile= \
    --schedule=var/celerybeat-schedule >var/log/beat.log 2>&1 &
pids+=($!)
$BIN/python manage.py runserver --noreload "$HOST:$PORT" &
pids+=($!)

cat <<MSG

  Partner Compliance Portal is running:  http://$HOST:$PORT/
  Admin site:                            http://$HOST:$PORT/admin/
  Demo logins (password: portal-demo):   admin, manager, partner1, partner2
  Worker log: var/log/worker.log   Beat log: var/log/beat.log
  Press Ctrl-C to stop everything.

MSG
# Stop everything as soon as any one of the three exits.
wait -n
