"""Python-side sanity check of a trained phase-3 model on the 50 averaged test fMRI (SYNTHETIC data).

DDIM (eta 0) from seeded noise, VQ decode, clamp((x+1)/2), grey = channel mean. Metrics as data.md §3.9:
50-way identification by pixel correlation, 2-way PCC identification, 10-way class of the reconstruction with the
shipped pool-trained logistic classifier (`classifier.npz`). Compared with the ridge → 64 image PCs baseline
(`pca64.npz`, Ridge α = 300) on the same data, and with the VQ round-trip of the true images (the prior's ceiling).
"""
import os

import numpy as np
import torch

from ..diffusion import ddim_sample
from .sampling import decode
from .common import DATA_DIR, SIZES, load_subject, to_rgb
from .prior import build_unet, build_vq


def scores(recon, truth, labels, clf):
    """recon, truth: [n, 1024] in [0,1]."""
    n = len(truth)
    cm = np.corrcoef(recon, truth)[:n, n:]
    pred = (recon @ clf['weight'].T + clf['bias']).argmax(1)
    return dict(top1_50way=float(np.mean(cm.argmax(1) == np.arange(n))),
                pair2way_pcc=float(np.mean([cm[i, i] > cm[i, j] for i in range(n) for j in range(n) if i != j])),
                class_acc=float(np.mean(pred == labels)),
                pcc=float(np.mean(np.diag(cm))))


def ridge_baseline(truth, labels, clf):
    from sklearn.linear_model import Ridge
    train, test, index = load_subject(os.path.join(DATA_DIR, 'sbj_3.npz'))
    imgs = np.load(os.path.join(DATA_DIR, 'images_32.npz'))['train_images'][index].reshape(len(index), -1) / 255.
    pca = np.load(os.path.join(DATA_DIR, 'pca64.npz'))
    mean, comps = pca['mean'].astype(np.float64), pca['components'].astype(np.float64)
    dec = Ridge(alpha=300).fit(train, (imgs - mean) @ comps.T)
    return scores(dec.predict(test) @ comps + mean, truth, labels, clf)


def evaluate(ldm, subject, samples, steps, extras=None, settings=None):
    """Scores on the test set. With `settings` (chosen on the validation pairs by sampling.sweep) the model decodes
    with them (low-level start, guidance) and the low-level decoder alone is scored too; without, plain DDIM
    from noise as before."""
    d = np.load(os.path.join(DATA_DIR, 'images_32.npz'))
    truth = d['test_images'].reshape(len(d['test_images']), -1) / 255.
    labels = d['test_labels'].astype(np.int64)
    clf = dict(np.load(os.path.join(DATA_DIR, 'classifier.npz')))
    fmri = subject['test'].astype(np.float32)
    opts = {k: settings[k] for k in ('sampler', 'init', 'strength', 'guidance')} if settings else \
        {'sampler': 'ddim', 'init': 'noise', 'strength': 1.0, 'guidance': 1.0}
    recs, pix = decode(ldm, extras, getattr(ldm, 'null_context', None), fmri, samples=samples, steps=steps, **opts)
    per_sample = [scores(r, truth, labels, clf) for r in recs]
    result = {'model': {k: float(np.mean([p[k] for p in per_sample])) for k in per_sample[0]},
              'model_per_sample': per_sample, 'settings': settings,
              'ridge_pca64': ridge_baseline(truth, labels, clf)}
    if pix is not None:
        result['lowlevel_alone'] = scores(pix, truth, labels, clf)
    with torch.no_grad():
        vq = ldm.first_stage_model
        ceiling = ((vq.decode(vq.encode(to_rgb(d['test_images']))) + 1) / 2).clamp(0, 1).mean(1)
    result['vq_roundtrip_ceiling'] = scores(ceiling.reshape(len(truth), -1).numpy(), truth, labels, clf)
    how = (f"{settings['sampler'].upper()} {steps} steps, init {settings['init']}, strength {settings['strength']}, "
           f"guidance {settings['guidance']}") if settings else f'DDIM {steps} steps eta 0 from noise'
    result['protocol'] = (f'SYNTHETIC data, Python-side check: {how}, {samples} seeded samples per '
                          f'test fMRI (scores averaged over samples), 50 averaged test fMRI of god-synth sbj_3')
    return result, recs


@torch.no_grad()
def prior_check(ldm_ckpt, per_class=10, steps=20, seed=0):
    """Class-conditional samples of the prior (DDIM, eta 0) classified by the pool-trained classifier: the share
    whose predicted class is the requested one, i.e. how well the prior alone can draw each class."""
    sd = ldm_ckpt['state_dict']
    unet, vq = build_unet(time_cond=False), build_vq()
    unet.load_state_dict({k[len('model.diffusion_model.'):]: v for k, v in sd.items() if k.startswith('model.diffusion_model.')})
    vq.load_state_dict({k[len('first_stage_model.'):]: v for k, v in sd.items() if k.startswith('first_stage_model.')})
    y = torch.arange(SIZES['num_classes']).repeat_interleave(per_class)
    c = sd['cond_stage_model.embedding.weight'][y][:, None, :]
    gen = torch.Generator().manual_seed(seed)
    x_t = torch.randn(len(y), 3, unet.image_size, unet.image_size, generator=gen)
    rec = ddim_sample(lambda x, t: unet(x, t, c), x_t, steps, 0.0, sd['alphas_cumprod'], gen)
    img = ((vq.decode(rec['final']) + 1) / 2).clamp(0, 1).mean(1).reshape(len(y), -1).numpy()
    clf = dict(np.load(os.path.join(DATA_DIR, 'classifier.npz')))
    pred = (img @ clf['weight'].T + clf['bias']).argmax(1)
    return float(np.mean(pred == y.numpy())), img
