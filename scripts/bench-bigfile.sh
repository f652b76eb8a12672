#!/usr/bin/env bash
# Big-file read: an NSD-sized session (81×104×83×750 int16, 1.05 GB, ~286 MB gzipped) through the
# nsdgeneral-style mask, read by nibabel (the reference) and by `decode`'s reader (streamed volume by
# volume), each in its own process: wall time and peak resident memory, side by side, plus the largest
# difference from nibabel's values. Not a test: CPU/memory heavy; run it once on a quiet machine.
# When DIR/nsd/betas_session01.hdf5 exists (gen_nsd.py without --no-hdf5), the same reader on it too (HDF5 reads
# the file on demand through the mask: a third row).
#   bash scripts/bench-bigfile.sh [DIR]   (DIR: where gen_nsd.py wrote nsd/; generated there when absent)
set -euo pipefail
cd "$(dirname "$0")/.."
DIR=${1:-/tmp/bench-bigfile}
GEN=${GEN_NSD:-../shared/fixtures/workflows/gen_nsd.py}
if [ ! -f "$DIR/nsd/betas_session01.nii.gz" ]; then
  echo "generating the session with $GEN (minutes, ~1.4 GB)…" >&2
  /usr/bin/python3 "$GEN" "$DIR" --no-hdf5 >&2
fi
BETAS=$DIR/nsd/betas_session01.nii.gz
MASK=${MASK:-$DIR/nsd/nsdgeneral.nii.gz}
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) CPUs" >&2

measure() { # label, command… → "label wall_seconds peak_MB cpu_seconds"
  local label=$1; shift
  /usr/bin/time -f "%e %M %U %S" -o /tmp/bench-bigfile.time "$@" > /tmp/bench-bigfile.out 2>/dev/null
  read -r secs kb user sys < /tmp/bench-bigfile.time
  echo "$label $secs $((kb / 1024)) $(python3 -c "print(round($user + $sys, 2))")"
}

REF=$DIR/nsd/bench_ref.npy
NIB=$(measure nibabel /usr/bin/python3 -c "
import sys, numpy as np, nibabel as nib
m = np.asanyarray(nib.load(sys.argv[2]).dataobj) == 1
x = np.asanyarray(nib.load(sys.argv[1]).dataobj)[m].T / 300.0
np.save(sys.argv[3], x.astype(np.float32))
" "$BETAS" "$MASK" "$REF")
python3 -c "import numpy as np; x=np.load('$REF'); np.savez('$DIR/nsd/bench_ref.npz', x=x)"
OURS=$(measure decode-reader npx tsx scripts/bigfile-read.ts --fmri "$BETAS" --mask "$MASK" --truth "$DIR/nsd/bench_ref.npz" --member x)
DIFF=$(grep -o '"maxAbsDiff":[^,]*' /tmp/bench-bigfile.out | cut -d: -f2)
H5=$DIR/nsd/betas_session01.hdf5
if [ -f "$H5" ]; then
  OURS_H5=$(measure decode-hdf5 npx tsx scripts/bigfile-read.ts --fmri "$H5" --mask "$MASK" --truth "$DIR/nsd/bench_ref.npz" --member x)
  DIFF_H5=$(grep -o '"maxAbsDiff":[^,]*' /tmp/bench-bigfile.out | cut -d: -f2)
fi
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
read -r _ ns nm nc <<< "$NIB"
read -r _ os om oc <<< "$OURS"
printf '%-15s %8s %12s %10s\n' reader 'wall s' 'CPU s' 'peak MB'
printf '%-15s %8s %12s %10s\n' nibabel "$ns" "$nc" "$nm"
printf '%-15s %8s %12s %10s\n' decode-reader "$os" "$oc" "$om"
if [ -n "${OURS_H5:-}" ]; then
  read -r _ hs hm hc <<< "$OURS_H5"
  printf '%-15s %8s %12s %10s   (.hdf5, %s bytes; largest |difference| from nibabel: %s)\n' decode-hdf5 "$hs" "$hc" "$hm" "$(stat -c %s "$H5")" "$DIFF_H5"
fi
python3 -c "print(f'ratio (ours / nibabel): wall {$os/$ns:.2f}x, CPU {$oc/$nc:.2f}x, peak memory {$om/$nm:.2f}x; largest |difference| from nibabel: $DIFF (the reader also starts tsx and loads the oracle for the comparison)')"
