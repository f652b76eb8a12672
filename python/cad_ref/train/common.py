"""Shared pieces of the default-model training: data, budgets, seeding, DDP, optimisers, logging.

Everything runs on CPU in one process by default; under `torchrun` (WORLD_SIZE > 1) the same code joins a
gloo process group, wraps trainable models in DistributedDataParallel and shards batches with a
DistributedSampler. cad_ref's random masking draws its noise on the CPU, so training stays on the CPU.
"""
import csv
import gzip
import math
import os
import time

import numpy as np
import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, DistributedSampler, TensorDataset

from ..fmri_mae import wrap_pad

DATA_DIR = 'public/data/god-synth'
FASHION_DIR = '/usr/share/datasets/fashion-mnist'
SEED = 2022  # the authors' seed; every stage offsets it by a fixed amount

# Steps/epochs per stage. 'quick' fits ~1 h on 2 shared CPU cores, 'full' ~2 h on 2 dedicated cores.
BUDGETS = {
    # a few steps of everything: checks the plumbing end to end in about a minute
    'smoke': dict(extra_subjects=[], extra_pool=0,
                  vq_ae_steps=3, vq_steps=3, vq_batch=8,
                  prior_images=64, ldm_steps=2, ldm_batch=8,
                  s1_epochs=1, s1_batch=16,
                  img_mae_steps=2, img_mae_batch=8, s2_epochs=1, s2_batch=16,
                  s3_epochs=1, s3_batch=16, s3_repeat=2, s3_uncond_pct=10,
                  eval_samples=1, eval_steps=2, data_limit=64),
    'quick': dict(extra_subjects=[1], extra_pool=0,
                  vq_ae_steps=150, vq_steps=350, vq_batch=32,
                  prior_images=8000, ldm_steps=1500, ldm_batch=48,
                  s1_epochs=2, s1_batch=64,
                  img_mae_steps=400, img_mae_batch=64, s2_epochs=8, s2_batch=16,
                  s3_epochs=40, s3_batch=16, s3_repeat=4, s3_uncond_pct=10,
                  eval_samples=2, eval_steps=20),
    'full': dict(extra_subjects=[1, 2, 4, 5], extra_pool=0,
                 vq_ae_steps=500, vq_steps=700, vq_batch=32,
                 prior_images=20000, ldm_steps=3000, ldm_batch=64,
                 s1_epochs=4, s1_batch=64,
                 img_mae_steps=500, img_mae_batch=64, s2_epochs=10, s2_batch=16,
                 s3_epochs=60, s3_batch=16, s3_repeat=4, s3_uncond_pct=10,
                 eval_samples=3, eval_steps=20),
}

# Network sizes of the embedded default model (the bundle must stay under 13 MB in fp16).
SIZES = dict(
    patch_size=16, embed_dim=128, depth=2, num_heads=4, mlp_ratio=1.0,
    decoder_embed_dim=64, decoder_depth=2, decoder_num_heads=4,
    cond_dim=64, out_tokens=77,
    unet=dict(imageSize=8, inChannels=3, outChannels=3, modelChannels=64, channelMult=[1, 2], numResBlocks=1,
              attentionResolutions=[1, 2], numHeads=1, transformerDepth=1, contextDim=64, timeCond=True),
    vq=dict(embedDim=3, nEmbed=256, zChannels=3, resolution=32, inChannels=3, outCh=3, ch=32, chMult=[1, 2, 2],
            numResBlocks=1, attnResolutions=[]),
    schedule=dict(numTimesteps=1000, linearStart=0.0015, linearEnd=0.0195),
    img=dict(patch=4, dim=128, depth=3, heads=4, mlp=4, dec_dim=64, dec_depth=2, dec_heads=4, cross_layers=3),
    num_classes=10,
)


# ---------------------------------------------------------------- process / logging

class Run:
    """Rank, world size and a progress logger shared by the stages."""

    def __init__(self, out_dir, budget):
        self.world = int(os.environ.get('WORLD_SIZE', '1'))
        if self.world > 1 and not dist.is_initialized():
            dist.init_process_group('gloo')
        self.rank = dist.get_rank() if self.world > 1 else 0
        self.out = out_dir
        self.budget_name = budget
        self.budget = BUDGETS[budget]
        self.t0 = time.time()
        self.stage_times = {}
        os.makedirs(out_dir, exist_ok=True)

    @property
    def main(self):
        return self.rank == 0

    def log(self, *parts):
        if self.main:
            print(f'[{time.time() - self.t0:7.1f}s]', *parts, flush=True)

    def barrier(self):
        if self.world > 1:
            dist.barrier()

    def seed(self, offset):
        torch.manual_seed(SEED + offset + 1000 * self.rank)
        np.random.seed(SEED + offset + 1000 * self.rank)

    def wrap(self, model, find_unused=False):
        return DistributedDataParallel(model, find_unused_parameters=find_unused) if self.world > 1 else model

    def loader(self, tensors, batch_size, seed, drop_last=True):
        """Shuffled batches; a DistributedSampler gives each rank its own shard of every epoch."""
        ds = TensorDataset(*tensors)
        if self.world > 1:
            sampler = DistributedSampler(ds, shuffle=True, seed=seed, drop_last=drop_last)
            return DataLoader(ds, batch_size=batch_size, sampler=sampler, drop_last=drop_last)
        gen = torch.Generator().manual_seed(seed)
        return DataLoader(ds, batch_size=batch_size, shuffle=True, generator=gen, drop_last=drop_last)

    def path(self, name):
        return os.path.join(self.out, name)


def set_epoch(loader, epoch):
    if isinstance(loader.sampler, DistributedSampler):
        loader.sampler.set_epoch(epoch)


def unwrap(model):
    return model.module if isinstance(model, DistributedDataParallel) else model


def infinite(loader):
    epoch = 0
    while True:
        set_epoch(loader, epoch)
        yield from loader
        epoch += 1


# ---------------------------------------------------------------- optimisation

def adamw_no_decay_1d(named_params, lr, weight_decay, betas=(0.9, 0.95)):
    """timm `add_weight_decay`: no decay on biases, norms and other 1-D parameters (and tokens)."""
    decay, no_decay = [], []
    for n, p in named_params:
        if not p.requires_grad:
            continue
        (no_decay if p.ndim <= 1 or n.endswith('.bias') or 'token' in n else decay).append(p)
    return torch.optim.AdamW([{'params': no_decay, 'weight_decay': 0.}, {'params': decay, 'weight_decay': weight_decay}],
                             lr=lr, betas=betas)


def warmup_cosine(optimizer, base_lr, step, total, warmup, per_group=False):
    """Per-iteration linear warm-up then half-cosine to 0 (MAE `adjust_learning_rate`). With `per_group`, each
    group's own 'base_lr' is multiplied by the factor computed for `base_lr`."""
    if step < warmup:
        lr = base_lr * step / max(1, warmup)
    else:
        lr = base_lr * 0.5 * (1. + math.cos(math.pi * (step - warmup) / max(1, total - warmup)))
    for g in optimizer.param_groups:
        g['lr'] = lr * g['base_lr'] if per_group else lr
    return lr


# ---------------------------------------------------------------- data

def load_subject(path):
    """GOD-layout npz → (train [N,V] float32 z-scores, test-average [50,V] or None, train→image index or None)."""
    d = np.load(path)
    scale = np.float32(d['scale'])
    train = d['arr_0'].astype(np.float32) * scale
    test = d['arr_2'].astype(np.float32) * scale if 'arr_2' in d.files else None
    index = d['arr_3'].astype(np.int64) if 'arr_3' in d.files else None
    return train, test, index


def subject_voxel_xyz(path=os.path.join(DATA_DIR, 'sbj_3.npz')):
    """float32 [V, 3]: each voxel's position in mm (the npz's voxel_xyz, MNI), in the column order of load_subject's
    samples, i.e. the model's input order before wrap padding."""
    return np.load(path)['voxel_xyz'].astype(np.float32)


def fit_length(x, num_voxels, patch_size=16):
    """Phase-2 length alignment: wrap-pad (spec §1.5) then wrap further or truncate to `num_voxels`."""
    x = wrap_pad(x, patch_size)
    if x.shape[1] < num_voxels:
        x = np.pad(x, [(0, 0), (0, num_voxels - x.shape[1])], mode='wrap')
    return x[:, :num_voxels]


VAL_SIZE = 150  # training pairs held out of stages 2 and 3 and the low-level decoder, for choosing sampler settings
VAL_SEED = 7


def validation_split(n, size=VAL_SIZE, seed=VAL_SEED):
    """(fit, val) index arrays into the n training samples: a fixed random `size` held out for validation."""
    perm = np.random.RandomState(seed).permutation(n)
    return np.sort(perm[size:]), np.sort(perm[:size])


def default_subject():
    """sbj_3 padded and scalar z-scored with the statistics of the fitted training samples.

    dict: train [N_fit, V] / index [N_fit] (image of each training sample) — the pairs every stage trains on;
    val [150, V] / val_index — single-trial training pairs held out for choosing sampler settings (never trained
    on by stages 2, 3 or the low-level decoder; stage 1 is unsupervised and sees only `train` too); test [50, V]
    averaged test fMRI; mean/std of the z-score; raw_voxels; num_voxels (padded)."""
    train, test, index = load_subject(os.path.join(DATA_DIR, 'sbj_3.npz'))
    raw_voxels = train.shape[1]
    fit, val = validation_split(len(train))
    train_p, test_p = wrap_pad(train), wrap_pad(test)
    mean, std = float(train_p[fit].mean()), float(train_p[fit].std())
    z = lambda x: ((x - mean) / std).astype(np.float32)  # noqa: E731
    return dict(train=z(train_p[fit]), index=index[fit], val=z(train_p[val]), val_index=index[val],
                test=z(test_p), mean=mean, std=std, raw_voxels=raw_voxels, num_voxels=train_p.shape[1])


def to_rgb(images_u8):
    """uint8 [N,32,32,1] → float32 [N,3,32,32] in [-1,1] (grey repeated, as the loader does for RGB models)."""
    x = torch.from_numpy(images_u8).float().div(127.5).sub(1.).permute(0, 3, 1, 2)
    return x.repeat(1, 3, 1, 1).contiguous()


def paired_images():
    d = np.load(os.path.join(DATA_DIR, 'images_32.npz'))
    return d['train_images'], d['test_images'], d['train_labels'].astype(np.int64), d['test_labels'].astype(np.int64)


def _idx(path, offset):
    with gzip.open(path, 'rb') as f:
        return np.frombuffer(f.read(), np.uint8, offset=offset)


def pretraining_pool():
    """Fashion-MNIST train split minus the 1,200 paired training images, zero-padded to 32×32 (uint8 [N,32,32,1])
    and its labels. The t10k split (where the test images come from) is never read."""
    images = _idx(os.path.join(FASHION_DIR, 'train-images-idx3-ubyte.gz'), 16).reshape(-1, 28, 28)
    labels = _idx(os.path.join(FASHION_DIR, 'train-labels-idx1-ubyte.gz'), 8).astype(np.int64)
    with open(os.path.join(DATA_DIR, 'training_label.csv')) as f:
        used = np.array([int(r['fm_train_index']) for r in csv.DictReader(f)])
    pool = np.setdiff1d(np.arange(len(images)), used)
    assert len(pool) == len(images) - 1200, f'expected 1200 distinct training indices, found {len(images) - len(pool)}'
    return np.pad(images[pool], ((0, 0), (2, 2), (2, 2)))[..., None], labels[pool]
