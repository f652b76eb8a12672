// Reads an fMRI input with the CLI's reader (flags as decode's) and prints time, kept shape and, with
// --truth <npz> --member <name>, the largest difference from the oracle. Used by scripts/bench-bigfile.sh.
import { parseArgs } from '../src/cli/args';
import { FMRI_INPUT_SPEC, readFmriInputs, refuseExtraArguments } from '../src/cli/fmriInputs';
import { readFileSync } from 'node:fs';
import { readNpz } from '../src/io/npz';
import { npyToFloat32 } from '../src/io/npy';

const args = parseArgs(process.argv.slice(2), {
  ...FMRI_INPUT_SPEC,
  truth: { type: 'string', help: '' },
  member: { type: 'string', help: '' },
});
refuseExtraArguments(args);
const t0 = performance.now();
const { file } = await readFmriInputs(args, (l) => process.stderr.write(`${l}\n`));
const seconds = (performance.now() - t0) / 1000;
let worst = NaN;
if (args.truth) {
  const ref = readNpz(new Uint8Array(readFileSync(String(args.truth))))[String(args.member)];
  const r = npyToFloat32(ref);
  worst = 0;
  for (let i = 0; i < file.samples; i++) {
    const s = file.getSample(i);
    for (let j = 0; j < s.length; j++) worst = Math.max(worst, Math.abs(s[j] - r[i * file.voxels + j]));
  }
  if (ref.shape[0] !== file.samples || ref.shape[1] !== file.voxels)
    throw new Error(`shape ${file.samples}×${file.voxels} vs oracle ${ref.shape.join('×')}`);
}
process.stdout.write(
  `${JSON.stringify({ seconds: +seconds.toFixed(2), samples: file.samples, voxels: file.voxels, maxAbsDiff: worst, peakRssMB: Math.round(process.resourceUsage().maxRSS / 1024) })}\n`,
);
