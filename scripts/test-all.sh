#!/usr/bin/env bash
# Every test, in the order that fails fastest: types, build, unit + parity (Node and Chromium), e2e.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup-test-deps.sh
export VK_ICD_FILENAMES=${VK_ICD_FILENAMES:-/usr/lib/chromium/vk_swiftshader_icd.json}
export XDG_RUNTIME_DIR=${XDG_RUNTIME_DIR:-/tmp}
echo "== typecheck"; npx tsc -p tsconfig.json
echo "== build"; npx vite build --logLevel warn
echo "== unit, parity, browser"; npx vitest run
echo "== e2e"; npx playwright test
