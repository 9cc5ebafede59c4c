#!/usr/bin/env bash
# Install, migrate, ensure the demo user, then run the web server AND a queue worker
# cluster on the embedded defaults. Ctrl-C stops both.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
PY=.venv/bin/python
HOST="${HOST:-127.0.0.1}"
PORT="${PORT:-8000}"

$PY manage.py catalogs compile >/dev/null  # .po -> .mo in pure Python: no GNU gettext needed
$PY manage.py migrate --noinput
$PY manage.py collectstatic --noinput -v 0
demo_line=$($PY manage.py ensure_demo_user)

pids=()
stop() {
  trap - INT TERM EXIT
  echo
  echo "==> stopping web server and worker"
  kill -TERM "${pids[@]}" 2>/dev/null || true
  wait "${pids[@]}" 2>/dev/null || true
}
trap stop INT TERM EXIT

# The worker cluster gets its own session: a terminal's Ctrl-C goes to every process of
# the foreground group, and django-q2 hangs when its children are signalled along with
# it. The trap below sends TERM to the cluster's parent alone, which stops in a second.
setsid $PY manage.py qcluster &
pids+=($!)
.venv/bin/gunicorn heygem_site.wsgi:application \
  --bind "$HOST:$PORT" --workers "${WEB_WORKERS:-2}" --threads "${WEB_THREADS:-4}" \
  --timeout 120 --graceful-timeout 5 --access-logfile - \
  --logger-class heygem_site.log_redaction.GunicornLogger &
pids+=($!)

sleep 2
echo
echo "============================================================"
echo "  HeyGem Studio is running at http://$HOST:$PORT/"
echo "  $demo_line"
echo "  A worker cluster is running beside it. Press Ctrl-C to stop both."
echo "============================================================"
# Either process exiting (a crash) stops the other too.
wait -n "${pids[@]}"
