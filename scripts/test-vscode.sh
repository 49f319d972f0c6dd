#!/usr/bin/env bash
# `npm run test:vscode`: the tests in real VS Code (code-server + Debian's Chromium, see README "VS Code").
#   1. scripts/tools.sh          Node 24 + code-server in .cache/tools, Debian packages
#   2. scripts/package.mjs       the production bundle and hmm-debug.vsix (the e2e test installs it)
#   3. integration               mocha inside the extension host via @vscode/test-electron's runTests
#                                (test/integration; VSCODE_EXECUTABLE=/path/to/code for VS Code desktop)
#   4. e2e                       playwright-core drives the workbench with the VSIX installed
#                                (test/e2e; screenshots in artifacts/screenshots/)
# Both test steps run even when the first fails; each ends with `N passed, N failed`.
set -uo pipefail
cd "$(dirname "$0")/.."
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1
T0=$SECONDS
phase() { echo "== [$((SECONDS - T0))s] $*"; }

phase "tools"
bash scripts/tools.sh || exit 1
phase "compile the tests, package the VSIX"
npx --no-install tsc -p tsconfig.test.json || exit 1
node scripts/package.mjs || exit 1

phase "integration tests in VS Code's extension host"
node out/test/integration/runTest.js; integration=$?
phase "e2e test in Chromium"
node out/test/e2e/e2e.js; e2e=$?
phase "done: integration $([ $integration = 0 ] && echo ok || echo FAILED), e2e $([ $e2e = 0 ] && echo ok || echo FAILED)"
[ $integration = 0 ] && [ $e2e = 0 ]
