#!/usr/bin/env bash
# Train the embedded default model (public/models/default) from the shipped SYNTHETIC data, all three CAD stages,
# on CPU. See docs/training.md.
#   bash scripts/train-default.sh                  # budget quick, the shipped model: 104 min measured (2 threads, 2026-12-02, under load)
#   bash scripts/train-default.sh --budget full   # longer schedule sized for ≈2 h on 2 dedicated cores (untimed)
#   bash scripts/train-default.sh --stages stage3,eval,export   # resume: other stages load from --out (.cache/train)
# Multi-process (DistributedDataParallel over gloo), same code:
#   NPROC=4 bash scripts/train-default.sh          # N local ranks, started here with torchrun's environment
#   PYTHONPATH=python torchrun --nproc_per_node 4 -m cad_ref.train --budget full   # torch >= 2 (Debian's 1.13
#                                                  # torchrun fails on Python 3.11: Std.from_str returns None)
# Needs Debian python3-torch, python3-numpy, python3-sklearn, dataset-fashion-mnist (pretraining pool) and,
# for the extra stage-1 subjects, mricron-data (the generator's atlas); node_modules for the bundle export.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=/usr/bin/python3
"$PY" -c 'import torch, sklearn' 2>/dev/null || { echo "need python3-torch and python3-sklearn (Debian): scripts/setup-test-deps.sh" >&2; exit 1; }
for f in /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz /usr/share/mricron/templates/brodmann.nii.gz; do
  [[ -f $f ]] || { echo "missing $f: apt-get install dataset-fashion-mnist mricron-data" >&2; exit 1; }
done
args=("$@")
[[ " $* " == *" --budget "* ]] || args=(--budget quick "${args[@]}")
out=.cache/train  # the --out folder: logs go next to the checkpoints
for (( i = 0; i < ${#args[@]}; i++ )); do
  [[ ${args[i]} == --out ]] && out=${args[i+1]:-$out}
  [[ ${args[i]} == --out=* ]] && out=${args[i]#--out=}
done
mkdir -p "$out"
start=$(date +%s)
train() {
  PYTHONPATH=python OMP_NUM_THREADS=${THREADS:-2} nice "$PY" -m cad_ref.train --threads "${THREADS:-2}" "${args[@]}"
}
nproc=${NPROC:-1}
if (( nproc > 1 )); then
  pids=()
  for (( r = 1; r < nproc; r++ )); do  # ranks 1.. quietly; rank 0 prints
    MASTER_ADDR=127.0.0.1 MASTER_PORT=${MASTER_PORT:-29511} WORLD_SIZE=$nproc RANK=$r LOCAL_RANK=$r train > "$out/rank$r.log" 2>&1 &
    pids+=($!)
  done
  MASTER_ADDR=127.0.0.1 MASTER_PORT=${MASTER_PORT:-29511} WORLD_SIZE=$nproc RANK=0 LOCAL_RANK=0 train 2>&1 | tee "$out/log.txt"
  for p in "${pids[@]}"; do wait "$p"; done
else
  train 2>&1 | tee "$out/log.txt"
fi
echo "train-default: total $(( $(date +%s) - start )) s; checkpoints, log.txt, eval.json and timings.json in $out"
