"""A small CNN that labels grey 32×32 Fashion-MNIST images: the semantic ("CNN class") metric of `npm run eval`.

The pixel-logistic classifier (`classifier.npz`) labels only 76 % of the *true* test images, so its column
measures blur as much as meaning. This CNN stands in for the paper's ImageNet classifier: it is trained on
the Fashion-MNIST pretraining pool (`common.pretraining_pool()`: the train split minus the 1,200 paired
training stimuli), so it never saw a test image (those come from the t10k split, which is never read here)
nor a paired training image. 4,000 pool images are held out to choose the epoch.

Run:  PYTHONPATH=python /usr/bin/python3 -m cad_ref.train.classifier [--out public/data/god-synth/classifier_cnn.npz]
      (or `npm run train:classifier`); 15 epochs of 25-40 s on one idle CPU thread (15 min on a loaded machine).
      Also lists the file's sha256 in the data set's meta.json (the loaders trust nothing else).
Shipped weights: epoch 15 chosen, held-out pool accuracy 0.916 (4,000 images), true test images 0.90 (45/50).

Input: grey images [n, 1, 32, 32] in [0, 1] (images_32.npz / 255; reconstructions as the metrics see them:
channel mean, resized to 32×32). Output: logits [n, 10] in the Fashion-MNIST class order of class_index.json.

Architecture (plain conv / ReLU / max-pool / linear, no normalisation layers, so TS needs no extra ops):
    conv1 3×3, 1→32, padding 1, ReLU, max-pool 2×2   → [32, 16, 16]
    conv2 3×3, 32→32, padding 1, ReLU, max-pool 2×2  → [32, 8, 8]
    conv3 3×3, 32→64, padding 1, ReLU, max-pool 2×2  → [64, 4, 4]
    flatten in PyTorch's (C, H, W) order              → [1024]
    fc 1024→10                                        → logits
38,314 parameters (150 KiB): the data folder must stay under 7 MB (src/eval/synthetic-data.test.ts).
Weights file (`classifier_cnn.npz`, all float32, PyTorch layouts):
    conv{1,2,3}.weight [out, in, 3, 3]  (cross-correlation, as torch.nn.Conv2d), conv{k}.bias [out]
    fc.weight [10, 1024]  (input index = c·16 + h·4 + w, the NCHW flatten), fc.bias [10]
`load(path)` and `logits(model, images)` below are the reference forward used by the TS parity test
(src/eval/cnn.test.ts).

Training: Adam (lr 2e-3, cosine to 0), batch 128, no dropout (the net is small and underfits with it),
augmentation = random shifts of up to ±2 px (zero fill) and random horizontal flips; seeds fixed, one thread.
"""
import argparse
import hashlib
import json
import os
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from .common import DATA_DIR, SEED, paired_images, pretraining_pool

HELD_OUT = 4000
OUT = os.path.join(DATA_DIR, 'classifier_cnn.npz')


class Cnn(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, 3, padding=1)
        self.conv2 = nn.Conv2d(32, 32, 3, padding=1)
        self.conv3 = nn.Conv2d(32, 64, 3, padding=1)
        self.fc = nn.Linear(1024, 10)

    def forward(self, x):
        """x [n, 1, 32, 32] in [0, 1] → logits [n, 10]."""
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = F.max_pool2d(F.relu(self.conv3(x)), 2)
        return self.fc(x.flatten(1))


def load(npz_path=OUT):
    """The shipped weights as an eval-mode `Cnn`."""
    model = Cnn()
    d = np.load(npz_path)
    model.load_state_dict({k: torch.from_numpy(d[k]) for k in d.files})
    return model.eval()


@torch.no_grad()
def logits(model, images):
    """images float [n, 32, 32] or [n, 32, 32, 1] in [0, 1] → logits float32 [n, 10] (numpy)."""
    x = torch.as_tensor(np.asarray(images, np.float32)).reshape(-1, 1, 32, 32)
    return torch.cat([model(x[i:i + 1000]) for i in range(0, len(x), 1000)]).numpy()


def augment(x, gen):
    """Random shift of up to ±2 px with zero fill (pad 2, random 32×32 crop) and random horizontal flip."""
    n = x.shape[0]
    padded = F.pad(x, (2, 2, 2, 2))
    dy = torch.randint(0, 5, (n,), generator=gen)
    dx = torch.randint(0, 5, (n,), generator=gen)
    out = torch.empty_like(x)
    for oy in range(5):
        for ox in range(5):
            m = (dy == oy) & (dx == ox)
            out[m] = padded[m, :, oy:oy + 32, ox:ox + 32]
    flip = torch.rand(n, generator=gen) < 0.5
    out[flip] = out[flip].flip(-1)
    return out


def accuracy(model, images, labels):
    return float((logits(model, images).argmax(1) == labels).mean())


def register_in_meta(path):
    """The data set's loaders trust a file only by its sha256 in meta.json: list the new weights there (same
    json.dump format as python/synth/generate.py, which lists every file of the folder when it regenerates)."""
    meta_path = os.path.join(os.path.dirname(os.path.abspath(path)), 'meta.json')
    if not os.path.exists(meta_path):
        return
    with open(meta_path) as f:
        meta = json.load(f)
    with open(path, 'rb') as f:
        meta.setdefault('sha256', {})[os.path.basename(path)] = hashlib.sha256(f.read()).hexdigest()
    meta['sha256'] = dict(sorted(meta['sha256'].items()))
    with open(meta_path, 'w') as f:
        json.dump(meta, f, indent=1, ensure_ascii=False)
    print(f'listed its sha256 in {meta_path}')


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--out', default=OUT)
    ap.add_argument('--epochs', type=int, default=15)
    ap.add_argument('--threads', type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(SEED)
    rng = np.random.default_rng(SEED)

    pool, pool_labels = pretraining_pool()
    order = rng.permutation(len(pool))
    held, train = order[:HELD_OUT], order[HELD_OUT:]
    x_all = torch.from_numpy(pool).float().div(255.).permute(0, 3, 1, 2).contiguous()
    y_all = torch.from_numpy(pool_labels)
    x_tr, y_tr = x_all[train], y_all[train]
    x_ho, y_ho = x_all[held].numpy(), pool_labels[held]
    _, test_u8, _, test_labels = paired_images()
    x_test = test_u8.astype(np.float32) / 255.

    model = Cnn()
    opt = torch.optim.Adam(model.parameters(), lr=2e-3)
    batch = 128
    steps_per_epoch = len(x_tr) // batch
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, args.epochs * steps_per_epoch)
    gen = torch.Generator().manual_seed(SEED + 1)
    best, best_state, best_epoch = -1., None, -1
    t0 = time.time()
    for epoch in range(args.epochs):
        model.train()
        perm = torch.randperm(len(x_tr), generator=gen)
        total = 0.
        for s in range(steps_per_epoch):
            idx = perm[s * batch:(s + 1) * batch]
            xb = augment(x_tr[idx], gen)
            loss = F.cross_entropy(model(xb), y_tr[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            total += float(loss)
        model.eval()
        acc = accuracy(model, x_ho, y_ho)
        print(f'[{time.time() - t0:6.0f}s] epoch {epoch + 1}/{args.epochs} loss {total / steps_per_epoch:.4f} '
              f'held-out pool accuracy {acc:.4f}', flush=True)
        # the epoch is chosen on the held-out pool only; the test images are looked at once, at the end
        if acc > best:
            best, best_epoch = acc, epoch + 1
            best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}

    model.load_state_dict(best_state)
    model.eval()
    test_acc = accuracy(model, x_test, test_labels)
    print(f'chosen epoch {best_epoch}: held-out pool accuracy {best:.4f} ({HELD_OUT} images), '
          f'true test images accuracy {test_acc:.4f} ({len(test_labels)} images)')
    np.savez(args.out, **{k: v.numpy().astype(np.float32) for k, v in model.state_dict().items()})
    print(f'wrote {args.out} ({os.path.getsize(args.out) / 1024:.0f} KiB)')
    register_in_meta(args.out)
    if test_acc < 0.88:
        raise SystemExit(f'true test image accuracy {test_acc:.4f} is below the required 0.88')


if __name__ == '__main__':
    main()
