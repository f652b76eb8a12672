"""PyTorch reference on CUDA for scripts/gpu-bench.sh: the published-size networks (python/cad_ref) with
random weights (speed does not depend on the values), fp32, batch 1.

    PYTHONPATH=python python3 scripts/gpu_bench_torch.py --config CONFIG.json [--reps 5]

CONFIG.json is a ModelConfig (TS field names; gpu-bench.sh writes src/model/config.ts PUBLISHED_GOD_SBJ3).
Prints one JSON line: {"device", "torch", "cuda", "unet_ms", "vq_ms", "encoder_ms", "peak_gib"} with median
milliseconds (after one warm-up, torch.cuda.synchronize around each call), or {"error": why} when torch has
no CUDA device.
"""
import argparse
import json
import statistics
import time

import torch

from cad_ref.diffusion import FmriLDM


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--config', required=True)
    ap.add_argument('--reps', type=int, default=5)
    args = ap.parse_args()
    if not torch.cuda.is_available():
        print(json.dumps({'error': f'torch {torch.__version__} has no usable CUDA device '
                                   f'(built with CUDA {torch.version.cuda})', 'torch': torch.__version__}))
        return
    with open(args.config) as f:
        cfg = json.load(f)
    dev = torch.device('cuda')
    torch.manual_seed(0)
    ldm = FmriLDM(cfg).eval().to(dev)
    c, side = cfg['vq']['embedDim'], cfg['unet']['imageSize']
    x = torch.randn(1, c, side, side, device=dev)
    t = torch.tensor([500], device=dev)
    ctx = torch.randn(1, cfg['cond']['outTokens'], cfg['cond']['condDim'], device=dev)
    fmri = torch.randn(1, 1, cfg['encoder']['numVoxels'], device=dev)

    def timed(fn):
        with torch.no_grad():
            fn()
            torch.cuda.synchronize()
            xs = []
            for _ in range(args.reps):
                t0 = time.perf_counter()
                fn()
                torch.cuda.synchronize()
                xs.append((time.perf_counter() - t0) * 1000)
        return statistics.median(xs)

    out = {'device': torch.cuda.get_device_name(0), 'torch': torch.__version__, 'cuda': torch.version.cuda}
    out['unet_ms'] = timed(lambda: ldm.apply_model(x, t, ctx))
    out['vq_ms'] = timed(lambda: ldm.decode_first_stage(x))
    out['encoder_ms'] = timed(lambda: ldm.get_learned_conditioning(fmri))
    out['peak_gib'] = torch.cuda.max_memory_allocated() / 2 ** 30
    print(json.dumps(out))


if __name__ == '__main__':
    main()
