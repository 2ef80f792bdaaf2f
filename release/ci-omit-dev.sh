#!/usr/bin/env bash
# CI: `npm ci --omit=dev && npm start` from a fresh copy of the checkout works (issue #11.7):
# the collector builds with production dependencies only, starts on the embedded defaults,
# ingests over HTTP and reads back through the admin API, then stops cleanly on SIGTERM.
# Uses the default ports (127.0.0.1:9410, :9880): run it when no collector is running.
set -euo pipefail
cd "$(dirname "$0")/.."
copy=$(mktemp -d "${TMPDIR:-/tmp}/sluice-omit-dev-XXXXXX")
pid=
cleanup() {
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then kill -TERM -- "-$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  rm -rf "$copy"
}
trap cleanup EXIT
git ls-files -z | xargs -0 cp --parents -t "$copy"
cd "$copy"
npm ci --omit=dev --no-audit --no-fund --loglevel=error
[ ! -e node_modules/vite ] && [ ! -e node_modules/tsx ] || { echo "ci-omit-dev: dev dependencies were installed" >&2; exit 1; }
# Its own process group, so the cleanup stops npm, its shell and the collector together.
setsid npm start > start.log 2>&1 &
pid=$!
for _ in $(seq 1 600); do
  curl -sf 127.0.0.1:9410/api/v1/health > /dev/null && break
  kill -0 "$pid" 2>/dev/null || { cat start.log >&2; echo "ci-omit-dev: npm start exited" >&2; exit 1; }
  sleep 0.1
done
curl -sf -d '{"from":"omit-dev"}' 127.0.0.1:9880/smoke > /dev/null
curl -sf '127.0.0.1:9410/api/v1/topics/smoke/events?from=0' | grep -q '"from":"omit-dev"' || { echo "ci-omit-dev: the event did not read back" >&2; exit 1; }
kill -TERM -- "-$pid"
wait "$pid" || true
# npm may exit before the collector has finished stopping: wait for the whole group (≤ 20 s).
for _ in $(seq 1 200); do kill -0 -- "-$pid" 2>/dev/null || break; sleep 0.1; done
grep -q '"stopped"' start.log || { cat start.log >&2; echo "ci-omit-dev: no clean stop" >&2; exit 1; }
pid=
echo "ci-omit-dev: npm ci --omit=dev && npm start: started, ingested, read back, stopped"
