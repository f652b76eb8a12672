#!/usr/bin/python3
"""Independent reference values for src/eval (metrics.ts, ridge.ts), run by metrics.synthetic.test.ts.

Reads <dir>/inputs.npz, writes <dir>/reference.json. Uses numpy, scikit-image, scikit-learn and torch
exactly as the authors' eval_metrics.py does (np.corrcoef, skimage structural_similarity with
data_range=255 and channel_axis=-1 on 0..255 images, pair_wise_score), sklearn Ridge/RidgeCV for the
ridge decoder and torch bilinear interpolation for resizing; the authors' n_way_top_k_acc (torch topk over
random class picks) for the CNN class metric; np.corrcoef ranks over test + gallery images for the novelty
identification test (Shirakawa et al. 2024); numpy max/mean over sample sets.
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


def n_way_top_k_acc(pred, class_id, n_way, num_trials=40, top_k=1, rng=None):
    """eval_metrics.py (MinD-Vis / CAD), verbatim but for the seeded generator."""
    import torch
    pick_range = [i for i in np.arange(len(pred)) if i != class_id]
    acc_list = []
    for t in range(num_trials):
        idxs_picked = rng.choice(pick_range, n_way - 1, replace=False)
        pred_picked = torch.cat([pred[class_id].unsqueeze(0), pred[idxs_picked]])
        _, top = pred_picked.unsqueeze(0).topk(top_k, 1, True, True)
        acc_list.append(float((top == 0).any()))
    return np.mean(acc_list)


def novelty(rec, gt, gallery):
    """Rank (1 = best) and percentile of the own GT by np.corrcoef among gt + gallery."""
    cands = np.concatenate([gt, gallery]).reshape(len(gt) + len(gallery), -1)
    ranks, pct = [], []
    for i, r in enumerate(rec):
        c = np.array([np.corrcoef(r.reshape(-1), x)[0, 1] for x in cands])
        others = np.delete(c, i)
        ranks.append(1 + int((others > c[i]).sum()))
        pct.append(float((others < c[i]).sum() / len(others)))
    return ranks, pct


def per_item(rec, gt, labels_w, labels_b, labels):
    """Per-image 50-way top-1 (argmax) and 2-way pcc fraction, pixel-classifier hit."""
    n = len(rec)
    pcc = np.array([[pcc_metric(rec[i], gt[j]) for j in range(n)] for i in range(n)])
    top1 = (pcc.argmax(1) == np.arange(n)).astype(float)
    two = np.array([np.mean([pcc[i, i] > pcc[i, j] for j in range(n) if j != i]) for i in range(n)])
    cls = ((rec.reshape(n, -1) @ labels_w.T + labels_b).argmax(1) == labels).astype(float)
    return top1, two, cls


def extras(z, out):
    import torch
    rng = np.random.default_rng(0)
    probs, gt_class = torch.from_numpy(z['cnn_probs']), z['cnn_gt_class'].astype(int)
    K = probs.shape[1]
    # n = K: every trial picks all other classes, so one value per image (0 or 1)
    out['nway_all'] = [n_way_top_k_acc(p, c, K, 40, 1, rng) for p, c in zip(probs, gt_class)]
    # n < K: the Monte-Carlo estimate with many trials (the TS value is its exact expectation)
    out['nway_5_mc'] = [n_way_top_k_acc(p, c, 5, 4000, 1, rng) for p, c in zip(probs, gt_class)]
    rec, gt, gal = z['recon'].astype(np.float64), z['gt'].astype(np.float64), z['gallery'].astype(np.float64)
    out['novelty_rank'], out['novelty_pct'] = novelty(rec, gt, gal)
    labels = z['labels'].astype(int)
    w, b = z['clf_w'].astype(np.float64), z['clf_b'].astype(np.float64)
    items = [per_item(r, gt, w, b, labels) for r in (rec, z['recon2'].astype(np.float64))]
    out['max_top1'] = float(np.mean(np.maximum(items[0][0], items[1][0])))
    out['max_pair2way_pcc'] = float(np.mean(np.maximum(items[0][1], items[1][1])))
    out['max_class'] = float(np.mean(np.maximum(items[0][2], items[1][2])))
    out['mean_top1'] = float(np.mean([items[0][0].mean(), items[1][0].mean()]))


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
    if 'cnn_probs' in z.files:
        extras(z, out)
    with open(f'{d}/reference.json', 'w') as f:
        json.dump(out, f)


if __name__ == '__main__':
    main(sys.argv[1])
