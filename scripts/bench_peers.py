"""PyTorch side of `npm run bench:peers` (src/cli/benchPeers.ts): the shared random weights, their ONNX
exports, and a timing worker for PyTorch CPU eager on the reference networks (python/cad_ref).

    PYTHONPATH=python /usr/bin/python3 scripts/bench_peers.py prepare --dir DIR [--seed 0]
    PYTHONPATH=python /usr/bin/python3 scripts/bench_peers.py worker --threads N

`prepare` reads DIR/model_config.json (a ModelConfig, TS field names; written by the TS driver), builds
the phase-3 `FmriLDM` with golden.py's seeded random weights (`build_ldm`), and writes
- DIR/tensors/<name>.npy + DIR/tensors.json: the state dict in the golden-vector format that the TS
  engine loads (test/golden.ts `goldenWeights`, src/io/npy.ts);
- DIR/unet.onnx (x [1, C, h, w] f32, t [1] int64, context [1, 77, condDim] f32 → ε [1, C, h, w]),
  DIR/encoder.onnx (fmri [1, numVoxels] f32, preprocessed → c [1, 77, condDim]: MAE encoder + channel and
  dim mappers), DIR/vq_decode.onnx (z [1, C, h, w] → image [1, 3, H, W] unclamped, quantise included):
  the same modules exported with torch.onnx (opset ONNX_OPSET), fixed batch 1;
- DIR/prepared.json: torch version, seed, opset, parameter count.
A folder whose prepared.json matches the config, seed and this file's mtime is reused.

`worker` speaks JSON lines on stdin/stdout: {"op": "load", "dir": D} loads the state dict from
DIR/tensors (so PyTorch runs exactly the weights the other runtimes run); {"op": "run", "what":
"unet"|"encoder"|"vq"|"decode", "steps": S} answers {"ms": wall milliseconds of one call};
{"op": "check"} answers the outputs of the three networks on the shared deterministic inputs
(benchInputs in benchPeers.ts) so the driver can show that every runtime computes the same thing.
"""
import argparse
import json
import math
import os
import sys
import time

import numpy as np
import torch

from cad_ref.diffusion import FmriLDM, plms_sample
from cad_ref.golden import build_ldm

ONNX_OPSET = 17


def inputs(cfg):
    """The deterministic inputs every runtime uses (mirrors benchInputs in src/cli/benchPeers.ts)."""
    c, side = cfg['vq']['embedDim'], cfg['unet']['imageSize']
    n_lat = c * side * side
    n_ctx = cfg['cond']['outTokens'] * cfg['cond']['condDim']
    v = cfg['encoder']['numVoxels']
    x = torch.tensor([math.sin(0.731 * i + 0.3) for i in range(n_lat)], dtype=torch.float32).reshape(1, c, side, side)
    ctx = torch.tensor([0.5 * math.cos(0.173 * i) for i in range(n_ctx)], dtype=torch.float32).reshape(
        1, cfg['cond']['outTokens'], cfg['cond']['condDim'])
    fmri = torch.tensor([math.sin(0.013 * i) * 1.3 for i in range(v)], dtype=torch.float32).reshape(1, v)
    return x, torch.tensor([500], dtype=torch.int64), ctx, fmri


class Encoder(torch.nn.Module):
    """Preprocessed fMRI [B, V] → conditioning [B, 77, condDim] (`get_learned_conditioning` on [B, 1, V])."""

    def __init__(self, ldm):
        super().__init__()
        self.cond = ldm.cond_stage_model

    def forward(self, fmri):
        return self.cond(fmri[:, None, :])


class VQDecode(torch.nn.Module):
    def __init__(self, ldm):
        super().__init__()
        self.vq = ldm.first_stage_model

    def forward(self, z):
        return self.vq.decode(z)


class UNet(torch.nn.Module):
    def __init__(self, ldm):
        super().__init__()
        self.unet = ldm.model.diffusion_model

    def forward(self, x, t, context):
        return self.unet(x, t, context)


def prepare(out, seed):
    with open(os.path.join(out, 'model_config.json')) as f:
        cfg = json.load(f)
    stamp = {'config': cfg, 'seed': seed, 'torch': torch.__version__, 'opset': ONNX_OPSET,
             'source_mtime': os.path.getmtime(__file__)}
    done = os.path.join(out, 'prepared.json')
    if os.path.exists(done):
        with open(done) as f:
            old = json.load(f)
        if {k: old.get(k) for k in stamp} == stamp:
            return old
    t0 = time.time()
    torch.manual_seed(seed)
    ldm = build_ldm(cfg, torch.Generator().manual_seed(seed))
    sd = {k: v.detach().clone().contiguous() for k, v in ldm.state_dict().items()}
    os.makedirs(os.path.join(out, 'tensors'), exist_ok=True)
    names = sorted(sd)
    for k in names:
        np.save(os.path.join(out, 'tensors', k + '.npy'), sd[k].numpy())
    with open(os.path.join(out, 'tensors.json'), 'w') as f:
        json.dump(names, f, indent=0)
    x, t, ctx, fmri = inputs(cfg)
    with torch.no_grad():
        for name, module, args, in_names, out_name in (
                ('unet', UNet(ldm), (x, t, ctx), ['x', 't', 'context'], 'eps'),
                ('encoder', Encoder(ldm), (fmri,), ['fmri'], 'c'),
                ('vq_decode', VQDecode(ldm), (x,), ['z'], 'image')):
            torch.onnx.export(module.eval(), args, os.path.join(out, name + '.onnx'), opset_version=ONNX_OPSET,
                              input_names=in_names, output_names=[out_name], do_constant_folding=True)
    info = stamp | {'params': int(sum(v.numel() for k, v in sd.items())), 'seconds': round(time.time() - t0, 1)}
    with open(done, 'w') as f:
        json.dump(info, f, indent=1)
    return info


class Worker:
    def __init__(self, threads):
        torch.set_num_threads(threads)
        self.ldm = None

    def load(self, d):
        with open(os.path.join(d, 'model_config.json')) as f:
            self.cfg = json.load(f)
        with open(os.path.join(d, 'tensors.json')) as f:
            names = json.load(f)
        ldm = FmriLDM(self.cfg).eval()
        sd = {n: torch.from_numpy(np.load(os.path.join(d, 'tensors', n + '.npy'))) for n in names}
        ldm.load_state_dict(sd, strict=True)
        self.ldm = ldm
        self.x, self.t, self.ctx, self.fmri = inputs(self.cfg)
        return {'threads': torch.get_num_threads()}

    @torch.no_grad()
    def call(self, what, steps=50):
        ldm = self.ldm
        if what == 'unet':
            return ldm.apply_model(self.x, self.t, self.ctx)
        if what == 'encoder':
            return ldm.get_learned_conditioning(self.fmri[:, None, :])
        if what == 'vq':
            return ldm.decode_first_stage(self.x)
        if what == 'decode':
            # The whole decode as the reference runs it: conditioning, PLMS (steps + 1 UNet calls), VQ decode.
            c = ldm.get_learned_conditioning(self.fmri[:, None, :])
            rec = plms_sample(lambda x, t: ldm.apply_model(x, t, c), self.x, steps, ldm.alphas_cumprod)
            return torch.clamp((ldm.decode_first_stage(rec['final']) + 1.0) / 2.0, 0.0, 1.0)
        raise ValueError(f'unknown measurement {what!r}')

    def handle(self, msg):
        op = msg['op']
        if op == 'load':
            return self.load(msg['dir'])
        if op == 'run':
            t0 = time.perf_counter()
            self.call(msg['what'], msg.get('steps', 50))
            return {'ms': (time.perf_counter() - t0) * 1000}
        if op == 'check':
            return {k: self.call(k).flatten().tolist() for k in ('unet', 'encoder', 'vq')}
        raise ValueError(f'unknown op {op!r}')


def worker(threads):
    w = Worker(threads)
    print(json.dumps({'ready': True, 'torch': torch.__version__, 'threads': torch.get_num_threads()}), flush=True)
    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            reply = {'ok': True, **w.handle(json.loads(line))}
        except Exception as e:  # reported to the driver, which prints it in the cell
            reply = {'ok': False, 'error': f'{type(e).__name__}: {e}'}
        print(json.dumps(reply), flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest='cmd', required=True)
    p = sub.add_parser('prepare')
    p.add_argument('--dir', required=True)
    p.add_argument('--seed', type=int, default=0)
    sub.add_parser('versions')
    w = sub.add_parser('worker')
    w.add_argument('--threads', type=int, required=True)
    args = ap.parse_args()
    if args.cmd == 'versions':
        print(f'python {sys.version.split()[0]}, torch {torch.__version__} (threads default {torch.get_num_threads()}), numpy {np.__version__}')
    elif args.cmd == 'prepare':
        torch.set_num_threads(1)
        print(json.dumps(prepare(args.dir, args.seed)))
    else:
        worker(args.threads)


if __name__ == '__main__':
    main()
