#!/usr/bin/env bash
# Regenerate the bundled SYNTHETIC data set public/data/god-synth (simulated responses, not brain data).
# Needs Debian packages: dataset-fashion-mnist mricron-data python3-numpy python3-scipy python3-sklearn
# python3-nibabel python3-h5py. Not part of the default CI (it needs those packages).
#   scripts/regen-data.sh                 # the shipped set (sbj_3) into public/data/god-synth
#   scripts/regen-data.sh --extra 1,2,4,5 [--pool N]   # extra subjects for stage-1 pretraining into .cache/synth
set -euo pipefail
cd "$(dirname "$0")/.."
PY=/usr/bin/python3
for f in /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz /usr/share/mricron/templates/brodmann.nii.gz; do
  [[ -f $f ]] || { echo "missing $f: apt-get install dataset-fashion-mnist mricron-data" >&2; exit 1; }
done
if [[ ${1:-} == --extra ]]; then
  subjects=${2:?usage: regen-data.sh --extra 1,2,4,5 [--pool N]}; shift 2
  exec nice "$PY" python/synth/generate.py --out .cache/synth --subjects "$subjects" --no-extras "$@"
fi
out=public/data/god-synth
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
nice "$PY" python/synth/generate.py --out "$tmp" "$@"
mkdir -p "$out"
cp "$tmp"/* "$out"/
du -cb "$out"/* | tail -1
