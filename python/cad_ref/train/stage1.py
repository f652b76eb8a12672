"""Stage 1 — DC-MAE (spec §2): masked autoencoding of unlabelled fMRI with self- and cross-contrast InfoNCE.

Data: the sbj_3 training samples plus simulated extra subjects (generator `python/synth/generate.py`), each
wrap-padded/truncated to the sbj_3 padded length and z-scored with its own scalar statistics. Writes
`phase1.pth` = {'model', 'optimizer', 'epoch', 'scaler', 'config'} as the authors' `save_model`.
"""
import os
import subprocess
import sys

import numpy as np
import torch

from .. import config as cfg_classes
from ..fmri_mae import MAEforFMRIContrast
from .common import SIZES, adamw_no_decay_1d, fit_length, set_epoch, unwrap, warmup_cosine

LR = 5e-4  # upstream 2.5e-4 at batch 250 for 140 epochs; this small model gets few steps, so a larger rate


def extra_subjects(run, subjects, pool, out_dir):
    """Simulate the extra subjects once (cached: the generator is deterministic for a given seed)."""
    todo = [s for s in subjects if not os.path.exists(os.path.join(out_dir, f'sbj_{s}.npz'))]
    if todo and run.main:
        cmd = [sys.executable, 'python/synth/generate.py', '--out', out_dir, '--subjects', ','.join(map(str, todo)),
               '--no-extras', '--no-baselines'] + (['--pool', str(pool)] if pool else [])
        run.log('  simulating extra subjects:', ' '.join(cmd))
        subprocess.run(cmd, check=True)
    run.barrier()
    return [os.path.join(out_dir, f'sbj_{s}.npz') for s in subjects]


def unlabelled_fmri(run, subject, extra_paths):
    """[N, numVoxels] float32: sbj_3 training samples + every extra subject's samples (train + pool if any)."""
    parts = [subject['train']]
    for path in extra_paths:
        d = np.load(path)
        x = np.concatenate([d[k].astype(np.float32) * np.float32(d['scale']) for k in ('arr_0', 'arr_pool') if k in d.files])
        x = fit_length(x, subject['num_voxels'], SIZES['patch_size'])
        parts.append((x - x.mean()) / x.std())
        run.log(f'  {os.path.basename(path)}: {d["arr_0"].shape[1]} voxels, {len(x)} samples')
    return np.concatenate(parts).astype(np.float32)


def build_mae(num_voxels, contrastive=True):
    s = SIZES
    return MAEforFMRIContrast(num_voxels, s['patch_size'], s['embed_dim'], s['depth'], s['num_heads'],
                              s['decoder_embed_dim'], s['decoder_depth'], s['decoder_num_heads'], s['mlp_ratio'],
                              do_mask_loss=True, do_self_contrast=contrastive, do_cross_contrast=contrastive)


def phase1_config(num_voxels, epochs, batch, contrastive):
    c = cfg_classes.Config_MBM_fMRI_contrast()
    s = SIZES
    c.lr, c.num_epoch, c.batch_size, c.warmup_epochs = LR, epochs, batch, 1
    c.patch_size, c.embed_dim, c.depth, c.num_heads, c.mlp_ratio = (
        s['patch_size'], s['embed_dim'], s['depth'], s['num_heads'], s['mlp_ratio'])
    c.decoder_embed_dim, c.decoder_depth, c.decoder_num_heads = s['decoder_embed_dim'], s['decoder_depth'], s['decoder_num_heads']
    c.fmri_channels = num_voxels // s['patch_size'] + 1
    c.do_self_contrast = c.do_cross_contrast = contrastive
    c.do_mask_loss = True
    c.include_hcp, c.include_kam = False, True
    return c


def run_stage1(run, subject, contrastive=True, name='phase1.pth'):
    b = run.budget
    paths = extra_subjects(run, b['extra_subjects'], b['extra_pool'], os.path.join(run.out, 'synth'))
    data = torch.from_numpy(unlabelled_fmri(run, subject, paths))[:b.get('data_limit'), None, :]
    run.log(f'  stage 1 data: {tuple(data.shape)}; contrastive terms {"on" if contrastive else "off"}')
    run.seed(30)
    mae = build_mae(subject['num_voxels'], contrastive)
    model = run.wrap(mae)
    opt = adamw_no_decay_1d(mae.named_parameters(), LR, 0.05)
    loader = run.loader([data], b['s1_batch'], seed=31)
    total = b['s1_epochs'] * len(loader)
    step = 0
    for epoch in range(b['s1_epochs']):
        set_epoch(loader, epoch)
        sums = np.zeros(4)
        for (x,) in loader:
            warmup_cosine(opt, LR, step, total, len(loader))
            loss, _, _, parts = model(x, mask_ratio=0.75)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(mae.parameters(), 0.8)
            opt.step()
            sums += [loss.item(), float(parts['mask']), float(parts['self']), float(parts['cross'])]
            step += 1
        m = sums / len(loader)
        run.log(f'  stage 1 epoch {epoch + 1}/{b["s1_epochs"]}: loss {m[0]:.4f} (mask {m[1]:.4f}, '
                f'self {m[2]:.4f}, cross {m[3]:.4f})')
    mae = unwrap(model)
    scaler = {'scale': 65536.0, 'growth_factor': 2.0, 'backoff_factor': 0.5, 'growth_interval': 2000, '_growth_tracker': 0}
    ckpt = {'model': mae.state_dict(), 'optimizer': opt.state_dict(), 'epoch': b['s1_epochs'] - 1, 'scaler': scaler,
            'config': phase1_config(subject['num_voxels'], b['s1_epochs'], b['s1_batch'], contrastive)}
    if run.main:
        torch.save(ckpt, run.path(name))
    return mae
