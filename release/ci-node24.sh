#!/usr/bin/env bash
# CI: the test suite's runtime subset under the Node 24 runtime the release ships (DESIGN §9),
# in a copy of the checkout, so the checkout's own node_modules (built for the machine's Node)
# are never touched. Needs `npm run dist:collector` first: the copy takes the runtime and the
# better-sqlite3 addon compiled for it from the release folder instead of compiling again.
#   release/ci-node24.sh [VITEST ARGS…]   (default: the collector, shared code, e2e and crash tests)
set -euo pipefail
cd "$(dirname "$0")/.."
version=$(node -p "require('./package.json').version")
release="dist/sluice-${version}-linux-x64"
[ -x "$release/node/bin/node" ] || { echo "ci-node24: $release not built: run npm run dist:collector first" >&2; exit 1; }
node24=$(cd "$release/node/bin" && pwd)
copy=$(mktemp -d "${TMPDIR:-/tmp}/sluice-node24-XXXXXX")
trap 'rm -rf "$copy"' EXIT
git ls-files -z | xargs -0 cp --parents -t "$copy"
cd "$copy"
# Install scripts skipped: Electron's fetches a binary; better-sqlite3's addon comes from the release.
PATH="$node24:$PATH" npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
mkdir -p node_modules/better-sqlite3/build/Release
cp "$OLDPWD/$release/node_modules/better-sqlite3/build/Release/better_sqlite3.node" node_modules/better-sqlite3/build/Release/
PATH="$node24:$PATH" node -e "new (require('better-sqlite3'))(':memory:'); console.log('ci-node24: tests on Node', process.version)"
if [ $# -eq 0 ]; then set -- collector shared test/e2e test/crash --exclude 'test/e2e/desktop/**' --exclude 'test/e2e/seek-10m.test.ts'; fi
PATH="$node24:$PATH" npx vitest run "$@"
