"""Decoding with the full pipeline in PyTorch (low-level start, guidance), and the validation sweep that picks the
sampler settings the studio and `decode` default to (SYNTHETIC god-synth data).

  PYTHONPATH=python /usr/bin/python3 -m cad_ref.train --stages sweep       # after stage3 and lowlevel

The sweep decodes the VALIDATION pairs (single training trials held out of stages 2–3 and of the low-level
decoder, `common.validation_split`), never the test set, over a grid of strength × guidance scale, and scores:
  - `2way`: 2-way identification by pixel correlation against every other validation image (chance 0.5);
  - `ident`: top-1 identification by pixel correlation among all validation images (n-way, n = 150);
  - `cnn`: top-1 of the CNN classifier (`classifier_cnn.npz`) with the label its class of the true image
    (the authors' n-way protocol with all 10 classes);
  - `pcc`: mean pixel correlation with the true image.
The chosen setting maximises `criterion` = `2way + cnn` (two accuracies, one scale), averaged over the samples.
Why not the 150-way top-1: on single trials it sits near its floor (≈ 0.03–0.05 for every setting), so it
ranked settings by noise; 2-way identification is the same pixel-correlation test with a usable range.
Validation trials are single trials while the test fMRI are averages of 35 repetitions, so the chosen strength is
a conservative one: lower-SNR input favours more of the prior.
"""
import os

import numpy as np
import torch

from ..diffusion import ddim_sample, guided_eps, plms_sample
from ..lowlevel import lowlevel_latent, lowlevel_pixels
from .common import DATA_DIR
from . import classifier

def load_cnn():
    """The shipped CNN (classifier_cnn.npz) as a function: grey images [n, R*R] in [0, 1] → logits [n, 10]."""
    model = classifier.load()
    return lambda images: classifier.logits(model, images)


STRENGTHS = (0.1, 0.2, 0.3, 0.5, 0.7)
GUIDANCES = (1.0, 2.0, 3.5, 5.0)


@torch.no_grad()
def decode(ldm, extras, null_context, fmri, *, samples=2, steps=20, sampler='ddim', init='lowlevel', strength=0.6,
           guidance=1.0, seed=0):
    """Grey reconstructions [samples, n, R*R] in [0, 1] and the low-level pixels [n, R*R] (None for init 'noise').

    fmri: preprocessed [n, numVoxels] float32 numpy. DDIM eta 0 or PLMS; x_T per sample from
    torch.Generator().manual_seed(seed + s), as evaluate.reconstruct draws it.
    """
    x = torch.from_numpy(np.ascontiguousarray(fmri, dtype=np.float32))
    c = ldm.get_learned_conditioning(x[:, None, :])
    eps_fn = guided_eps(ldm.apply_model, c, null_context, guidance)
    pix, z0 = (None, None)
    if init == 'lowlevel':
        pix, z0 = lowlevel_latent(extras, ldm.first_stage_model, x)
    side = ldm.model.diffusion_model.image_size
    out = []
    for s in range(samples):
        gen = torch.Generator().manual_seed(seed + s)
        x_t = torch.randn(len(x), 3, side, side, generator=gen)
        kw = dict(x0_init=z0, strength=strength) if init == 'lowlevel' else {}
        if sampler == 'plms':
            rec = plms_sample(eps_fn, x_t, steps, ldm.alphas_cumprod, **kw)
        else:
            rec = ddim_sample(eps_fn, x_t, steps, 0.0, ldm.alphas_cumprod, gen, **kw)
        img = ((ldm.decode_first_stage(rec['final']) + 1) / 2).clamp(0, 1).mean(1)
        out.append(img.reshape(len(x), -1).numpy())
    return np.stack(out), (pix.numpy() if pix is not None else None)


def score(recs, truth, cnn):
    """recs [S, n, R*R], truth [n, R*R] → mean over samples of 2way (2-way identification by PCC, ties count
    half), ident (n-way top-1 by PCC), cnn top-1, pcc."""
    n = len(truth)
    gt_class = cnn(truth).argmax(1)
    out = {'2way': [], 'ident': [], 'cnn': [], 'pcc': []}
    for r in recs:
        cm = np.corrcoef(r, truth)[:n, n:]
        own = np.diag(cm)[:, None]
        wins = (own > cm).sum(1) + 0.5 * ((own == cm).sum(1) - 1)
        out['2way'].append(np.mean(wins / (n - 1)))
        out['ident'].append(np.mean(cm.argmax(1) == np.arange(n)))
        out['cnn'].append(np.mean(cnn(r).argmax(1) == gt_class))
        out['pcc'].append(np.mean(np.diag(cm)))
    return {k: float(np.mean(v)) for k, v in out.items()}


def criterion(m):
    """What the validation choices maximise: 2-way identification + CNN class top-1 (see the module docstring)."""
    return m['2way'] + m['cnn']


def low_level_score(pix, truth, cnn):
    return score(pix[None], truth, cnn)


LOWLEVEL_ALPHAS = (30., 100., 300., 1000., 3000., 10000., 30000.)
# None: the ridge's own predictions; a factor: every prediction rescaled to factor × the median norm of the
# training images' PCA coefficients (cad_ref/lowlevel.py, coef_norm).
LOWLEVEL_NORM_FACTORS = (None, 1.0, 1.25, 1.5, 2.0)


def choose_lowlevel(run, subject, fit):
    """Fits the low-level ridge for each alpha on the fitted training pairs and keeps the alpha and norm factor
    whose pixels score best on the validation pairs by the sweep's `criterion`.
    fit: cad_ref.train.lowlevel.fit_lowlevel."""
    d = np.load(os.path.join(DATA_DIR, 'images_32.npz'))
    pca = np.load(os.path.join(DATA_DIR, 'pca64.npz'))
    truth = d['train_images'][subject['val_index']].reshape(len(subject['val_index']), -1) / 255.
    cnn = load_cnn()
    best, table = None, []
    for alpha in LOWLEVEL_ALPHAS:
        for f in LOWLEVEL_NORM_FACTORS:
            extras = fit(subject['train'], d['train_images'][subject['index']], pca['mean'], pca['components'], alpha,
                         norm_factor=f)
            m = low_level_score(lowlevel_pixels(extras, torch.from_numpy(subject['val'])).numpy(), truth, cnn)
            table.append({'alpha': alpha, 'norm_factor': f, **m})
            run.log(f'  low-level ridge alpha {alpha:g} norm factor {f}: validation {m}')
            if best is None or criterion(m) > best[0]:
                best = (criterion(m), alpha, f, extras)
    return best[3], {'alphas': table, 'chosen_alpha': best[1], 'chosen_norm_factor': best[2]}


def sweep(run, ldm, extras, null_context, subject, samples=2, steps=20):
    """Grid over STRENGTHS × GUIDANCES on the validation pairs; returns {'grid': [...], 'chosen': {...}}."""
    d = np.load(os.path.join(DATA_DIR, 'images_32.npz'))
    truth = d['train_images'][subject['val_index']].reshape(len(subject['val_index']), -1) / 255.
    cnn = load_cnn()
    grid = []
    pix = lowlevel_pixels(extras, torch.from_numpy(subject['val'])).numpy()
    low = low_level_score(pix, truth, cnn)
    run.log(f'  sweep: low-level alone {low}')
    for g in GUIDANCES:
        for s in STRENGTHS:
            recs, _ = decode(ldm, extras, null_context, subject['val'], samples=samples, steps=steps, strength=s,
                             guidance=g)
            m = score(recs, truth, cnn)
            grid.append({'init': 'lowlevel', 'strength': s, 'guidance': g, **m})
            run.log(f'  sweep strength {s} guidance {g}: {m}')
        recs, _ = decode(ldm, extras, null_context, subject['val'], samples=samples, steps=steps, init='noise',
                         strength=1.0, guidance=g)
        m = score(recs, truth, cnn)
        grid.append({'init': 'noise', 'strength': 1.0, 'guidance': g, **m})
        run.log(f'  sweep from noise guidance {g}: {m}')
    best = max(grid, key=criterion)
    chosen = {'sampler': 'ddim', 'steps': steps, 'init': best['init'], 'strength': best['strength'],
              'guidance': best['guidance']}
    return {'protocol': f'SYNTHETIC data; validation: {len(truth)} single-trial training pairs held out of stages 2-3 '
                        f'and the low-level decoder; DDIM {steps} steps eta 0, {samples} samples; '
                        'criterion 2way + cnn (mean over samples)',
            'low_level_alone': low, 'grid': grid, 'chosen': chosen}
