#!/usr/bin/env bash
# The README's results table for a model bundle (default: the embedded model), measured with `npm run eval` on the
# SYNTHETIC god-synth test set: ridge, the model's low-level decoder alone, the full pipeline with the settings the
# bundle carries (config.sampling, chosen on validation data), the shuffled control through the same path, and two
# ablations of the pipeline (no guidance; from noise instead of the low-level start). 4 samples per fMRI.
#   bash scripts/eval-default.sh [bundle-dir] [out-dir]      # about 10 min on 2 cores (wasm)
# Writes one JSON per row into out-dir (default .cache/eval) and prints the markdown table.
set -euo pipefail
cd "$(dirname "$0")/.."
model=${1:-public/models/default}
out=${2:-.cache/eval}
mkdir -p "$out"
read -r sampler steps init strength guidance < <(node -e '
const c = JSON.parse(require("fs").readFileSync(process.argv[1] + "/manifest.json", "utf8")).config.sampling;
if (!c) { console.error("the bundle has no config.sampling (chosen settings); pass a bundle trained by npm run train"); process.exit(1); }
console.log([c.sampler, c.steps, c.init, c.strength, c.guidance].join(" "));' "$model")
ev() { local name=$1; shift; echo "== $name: npm run eval -- $*" >&2; npx tsx src/cli/eval.ts "$@" --json "$out/$name.json" >&2; }
chosen=(--model "$model" --sampler "$sampler" --steps "$steps" --samples 4 --seed 0)
ev ridge --baseline ridge
ev lowlevel --baseline lowlevel --model "$model"
ev pipeline "${chosen[@]}" --init "$init" --strength "$strength" --guidance "$guidance"
ev pipeline-shuffled "${chosen[@]}" --init "$init" --strength "$strength" --guidance "$guidance" --shuffle
ev no-guidance "${chosen[@]}" --init "$init" --strength "$strength" --guidance 1
ev from-noise "${chosen[@]}" --init noise --strength 1 --guidance "$guidance"
node scripts/eval-table.mjs "$out" ridge lowlevel pipeline pipeline-shuffled no-guidance from-noise
