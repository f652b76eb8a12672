#!/usr/bin/python3
"""Independent reference values for src/eval (metrics.ts, ridge.ts), run by metrics.synthetic.test.ts.

Reads <dir>/inputs.npz, writes <dir>/reference.json. Uses numpy, scikit-image, scikit-learn and torch
exactly as the authors' eval_metrics.py does (np.corrcoef, skimage structural_similarity with
data_range=255 and channel_axis=-1 on 0..255 images, pair_wise_score), sklearn Ridge/RidgeCV for the
ridge decoder and torch bilinear interpolation for resizing.
"""
import json, sys
import numpy as np
from skimage.metrics import structural_similarity
from sklearn.linear_model import Ridge, RidgeCV


def pcc_metric(a, b):
    return np.corrcoef(a.reshape(-1), b.reshape(-1))[0, 1]


def ssim_metric(a, b):
    return structural_similarity(a, b, data_range=255, channel_axis=-1)


def pair_wise_score(pred, gt, metric):
    out = []
    for i, p in enumerate(pred):
        own = metric(p, gt[i])
        rest = [g for j, g in enumerate(gt) if j != i]
        out.append(sum(own > metric(p, g) for g in rest) / len(rest))
    return out


def main(d):
    z = np.load(f'{d}/inputs.npz')
    rec, gt = z['recon'].astype(np.float64), z['gt'].astype(np.float64)  # [n,H,W] in [0,1]
    rgb = lambda x: np.repeat(x[..., None] * 255.0, 3, -1)  # the authors' 3-channel 0..255 layout
    R, G = rgb(rec), rgb(gt); n = len(R)
    pcc = np.array([[pcc_metric(R[i], G[j]) for j in range(n)] for i in range(n)])
    ssim = np.array([[ssim_metric(R[i], G[j]) for j in range(n)] for i in range(n)])
    logits = z['recon'].reshape(n, -1).astype(np.float64) @ z['clf_w'].T.astype(np.float64) + z['clf_b']
    out = dict(pcc=pcc.tolist(), ssim=ssim.tolist(), top1=float(np.mean(pcc.argmax(1) == np.arange(n))),
               pair2way_pcc=float(np.mean(pair_wise_score(R, G, pcc_metric))),
               pair2way_ssim=float(np.mean(pair_wise_score(R, G, ssim_metric))),
               class_pred=logits.argmax(1).tolist())
    X, Y, Xt, alphas = z['ridge_x'], z['ridge_y'], z['ridge_xt'], z['alphas']
    out['ridge_fixed'] = Ridge(alpha=float(alphas[0])).fit(X, Y).predict(Xt).tolist()
    cv = RidgeCV(alphas=alphas, store_cv_values=True).fit(X, Y)  # efficient exact leave-one-out
    out['ridgecv_alpha'] = float(cv.alpha_)
    out['ridgecv_loo_mse'] = cv.cv_values_.mean((0, 1)).tolist()
    out['ridgecv_pred'] = cv.predict(Xt).tolist()
    import torch
    import torch.nn.functional as F
    for key in ('resize_up', 'resize_down'):
        img = torch.from_numpy(z[key].astype(np.float64)).permute(2, 0, 1)[None]
        grey = img.mean(1, keepdim=True)
        out[key] = F.interpolate(grey, size=(32, 32), mode='bilinear', align_corners=False)[0, 0].numpy().ravel().tolist()
    with open(f'{d}/reference.json', 'w') as f:
        json.dump(out, f)


if __name__ == '__main__':
    main(sys.argv[1])
