#!/usr/bin/env bash
# Install, migrate, ensure the demo user, then run the web server AND a queue worker
# cluster on the embedded defaults. Ctrl-C stops both.
#
# It runs with DEBUG off: 404 and 500 answers are the site's own pages (the API's are JSON),
# never URL lists or settings. For development, turn debug pages on with
#     DEBUG=1 ./scripts/run.sh
# The HTTPS-only settings follow SITE_URL's scheme (http://127.0.0.1:8000 here), not DEBUG.
#
# If the worker cluster dies, it is restarted (the site stays up); if the web server dies,
# everything stops.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
PY=.venv/bin/python
HOST="${HOST:-127.0.0.1}"
PORT="${PORT:-8000}"
export DEBUG="${DEBUG:-0}"
export SITE_URL="${SITE_URL:-http://$HOST:$PORT}"

$PY manage.py catalogs compile >/dev/null  # .po -> .mo in pure Python: no GNU gettext needed
$PY manage.py migrate --noinput
$PY manage.py collectstatic --noinput -v 0
demo_line=$($PY manage.py ensure_demo_user)

state=$(mktemp -d)
web_pid=""
supervisor_pid=""
stop() {
  trap - INT TERM EXIT
  echo
  echo "==> stopping web server and worker"
  touch "$state/stopping"
  [ -n "$supervisor_pid" ] && kill -TERM "$supervisor_pid" 2>/dev/null || true
  [ -f "$state/worker.pid" ] && kill -TERM "$(cat "$state/worker.pid")" 2>/dev/null || true
  [ -n "$web_pid" ] && kill -TERM "$web_pid" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$state"
}
trap stop INT TERM EXIT

# The worker cluster gets its own session: a terminal's Ctrl-C goes to every process of
# the foreground group, and django-q2 hangs when its children are signalled along with
# it. stop() sends TERM to the cluster's parent alone, which stops in a second.
supervise_worker() {
  trap 'exit 0' TERM
  while [ ! -e "$state/stopping" ]; do
    setsid $PY manage.py qcluster &
    echo $! >"$state/worker.pid"
    status=0
    wait $! || status=$?
    [ -e "$state/stopping" ] && break
    echo "==> the worker cluster stopped (exit status $status); restarting it in 2 s" >&2
    sleep 2
  done
}
supervise_worker &
supervisor_pid=$!

.venv/bin/gunicorn heygem_site.wsgi:application \
  --bind "$HOST:$PORT" --workers "${WEB_WORKERS:-2}" --threads "${WEB_THREADS:-4}" \
  --timeout 120 --graceful-timeout 5 --access-logfile - \
  --control-socket "$state/gunicorn.ctl" \
  --logger-class heygem_site.log_redaction.GunicornLogger &
web_pid=$!

sleep 2
echo
echo "============================================================"
echo "  HeyGem Studio is running at http://$HOST:$PORT/"
echo "  $demo_line"
echo "  A worker cluster is running beside it (restarted if it stops)."
echo "  Debug pages are off; DEBUG=1 ./scripts/run.sh turns them on."
echo "  Press Ctrl-C to stop both."
echo "============================================================"
# The web server exiting (a crash) stops everything; the worker is restarted above.
wait "$web_pid"
