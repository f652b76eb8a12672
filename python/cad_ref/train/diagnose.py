"""Where does a trained default model lose information? Three measurements on the SYNTHETIC god-synth set.

  PYTHONPATH=python /usr/bin/python3 -m cad_ref.train.diagnose --out .cache/train [--json diag.json]

1. Classifier ceiling: the shipped pool-trained pixel classifier on the *true* test images. No reconstruction
   can be expected to beat it by being more faithful; only blur towards the class means does.
2. Linear probes: Ridge from features of the 1,200 single-trial training fMRI to the 64 shipped image PCs,
   scored on the 50 averaged test fMRI with the evaluation metrics (as the ridge baseline, which is the probe
   on raw voxels). Features: the stage-1 and stage-2 encoders (final norm, all tokens) and the phase-3
   conditioning c = cond_stage_model(x). Says whether the fMRI information survives into what the UNet sees.
3. Conditioning use: the phase-3 ε-MSE on the test pairs with the true conditioning vs a shuffled one, per
   band of timesteps. Says how much the UNet relies on c, and where in the schedule.
"""
import argparse
import json
import os

import numpy as np
import torch
from sklearn.linear_model import RidgeCV

from .common import DATA_DIR, default_subject, paired_images, to_rgb
from .evaluate import scores
from .stage1 import build_mae
from .stage3 import build_ldm, model_config

PROBE_ALPHAS = (1e1, 3e1, 1e2, 3e2, 1e3, 3e3, 1e4, 3e4, 1e5)


def reference():
    d = np.load(os.path.join(DATA_DIR, 'images_32.npz'))
    clf = dict(np.load(os.path.join(DATA_DIR, 'classifier.npz')))
    pca = np.load(os.path.join(DATA_DIR, 'pca64.npz'))
    return d, clf, pca['mean'].astype(np.float64), pca['components'].astype(np.float64)


@torch.no_grad()
def batched(fn, x, size=100):
    return np.concatenate([fn(torch.from_numpy(x[i:i + size])[:, None, :]).reshape(len(x[i:i + size]), -1).numpy()
                           for i in range(0, len(x), size)])


def encoder_features(mae):
    def fn(x):
        h = mae.patch_embed(x) + mae.pos_embed[:, 1:]
        for blk in mae.blocks:
            h = blk(h)
        return mae.norm(h)
    return fn


def probe(fn, subject, ref):
    """Ridge probe with α chosen by leave-one-out on the training set (never on the test set)."""
    d, clf, mean, comps = ref
    y_train = (d['train_images'][subject['index']].reshape(len(subject['index']), -1) / 255. - mean) @ comps.T
    truth, labels = d['test_images'].reshape(len(d['test_images']), -1) / 255., d['test_labels']
    f_train, f_test = batched(fn, subject['train']), batched(fn, subject['test'])
    mu, sd = f_train.mean(0), f_train.std(0) + 1e-6
    r = RidgeCV(alphas=PROBE_ALPHAS).fit((f_train - mu) / sd, y_train)
    return {'alpha': float(r.alpha_), **scores(r.predict((f_test - mu) / sd) @ comps + mean, truth, labels, clf)}


@torch.no_grad()
def conditioning_use(ldm, subject, repeats=8, seed=0):
    gen = torch.Generator().manual_seed(seed)
    test_u8 = paired_images()[1]
    z = ldm.first_stage_model.encode(to_rgb(test_u8)).repeat(repeats, 1, 1, 1)
    c = ldm.get_learned_conditioning(torch.from_numpy(subject['test'])[:, None, :]).repeat(repeats, 1, 1)
    n_test = len(test_u8)
    shuffled = torch.cat([torch.roll(torch.arange(n_test), 1 + k) for k in range(repeats)])  # never its own c
    bands = {}
    for lo in range(0, ldm.num_timesteps, 200):
        t = torch.randint(lo, lo + 200, (len(z),), generator=gen)
        eps = torch.randn(z.shape, generator=gen)
        x_t = ldm.sqrt_alphas_cumprod[t][:, None, None, None] * z + ldm.sqrt_one_minus_alphas_cumprod[t][:, None, None, None] * eps
        true = ((ldm.apply_model(x_t, t, c) - eps) ** 2).mean().item()
        shuf = ((ldm.apply_model(x_t, t, c[shuffled]) - eps) ** 2).mean().item()
        bands[f't{lo}-{lo + 199}'] = {'eps_mse_true_c': true, 'eps_mse_shuffled_c': shuf, 'gain': 1 - true / shuf}
    return bands


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--out', default='.cache/train', help='training folder with phase1.pth, phase2.pth, ldm.ckpt, phase3.pth')
    ap.add_argument('--json', help='write the results here')
    ap.add_argument('--threads', type=int, default=2)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    subject, ref = default_subject(), reference()
    d, clf = ref[0], ref[1]
    truth = d['test_images'].reshape(len(d['test_images']), -1) / 255.
    result = {'data': 'SYNTHETIC god-synth sbj_3 (simulated fMRI, not brain data)',
              'classifier_on_true_test_images': scores(truth, truth, d['test_labels'], clf)['class_acc']}
    print(f"classifier on the true test images: class accuracy {result['classifier_on_true_test_images']:.2f}", flush=True)
    result['probe_raw_voxels'] = probe(lambda x: x, subject, ref)
    for name in ('phase1', 'phase2'):
        path = os.path.join(a.out, f'{name}.pth')
        if not os.path.exists(path):
            continue
        state = torch.load(path)['model']
        mae = build_mae(subject['num_voxels']).eval()
        mae.load_state_dict({k: v for k, v in state.items() if k in mae.state_dict()}, strict=False)
        result[f'probe_{name}_encoder'] = probe(encoder_features(mae), subject, ref)
    encoder = os.path.join(a.out, 'phase2.pth' if os.path.exists(os.path.join(a.out, 'phase2.pth')) else 'phase1.pth')
    ldm = build_ldm(model_config(subject), torch.load(os.path.join(a.out, 'ldm.ckpt')), torch.load(encoder)['model'])
    ldm.load_state_dict(torch.load(os.path.join(a.out, 'phase3.pth'))['model_state_dict'])
    ldm.eval()
    result['probe_phase3_conditioning'] = probe(ldm.get_learned_conditioning, subject, ref)
    result['conditioning_use_test'] = conditioning_use(ldm, subject)
    for k, v in result.items():
        if k.startswith('probe'):
            print(k, {m: round(s, 3) for m, s in v.items()}, flush=True)
    for band, v in result['conditioning_use_test'].items():
        print(f"ε-MSE {band}: true c {v['eps_mse_true_c']:.4f}, shuffled c {v['eps_mse_shuffled_c']:.4f} "
              f"({100 * v['gain']:.0f} % lower with the true c)")
    if a.json:
        with open(a.json, 'w') as f:
            json.dump(result, f, indent=1)


if __name__ == '__main__':
    main()
