#!/usr/bin/env bash
# Every test, in the order that fails fastest: types, build, unit + parity (Node and Chromium), e2e.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup-test-deps.sh
export VK_ICD_FILENAMES=${VK_ICD_FILENAMES:-/usr/lib/chromium/vk_swiftshader_icd.json}
export XDG_RUNTIME_DIR=${XDG_RUNTIME_DIR:-/tmp}
mkdir -p test-results
echo "== typecheck"; npx tsc -p tsconfig.json
echo "== format (Biome, width 140: npm run format fixes it)"; npx biome format . --log-level=none > /dev/null || { npx biome format . 2>&1 | tail -40; echo "format check failed: run npm run format"; exit 1; }
echo "== unused files, exports, dependencies (knip)"; npx knip --no-progress
echo "== build"; npx vite build --logLevel warn
echo "== unit, parity, browser"
npx vitest run --reporter=default --reporter=json --outputFile.json=test-results/vitest.json
echo "== e2e"
PLAYWRIGHT_JSON_OUTPUT_NAME=test-results/playwright.json npx playwright test --reporter=list,json
# One closing line over both runners.
node -e '
const fs = require("fs");
const v = JSON.parse(fs.readFileSync("test-results/vitest.json", "utf8"));
const p = JSON.parse(fs.readFileSync("test-results/playwright.json", "utf8")).stats;
const passed = v.numPassedTests + p.expected, failed = v.numFailedTests + p.unexpected + p.flaky;
const skipped = v.numPendingTests + v.numTodoTests + p.skipped;
console.log(`${passed} passed, ${failed} failed` + (skipped ? `, ${skipped} skipped` : ""));
process.exitCode = failed ? 1 : 0;'
