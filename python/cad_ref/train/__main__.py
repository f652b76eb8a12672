"""Train the studio's embedded default model on the SYNTHETIC god-synth set, all three CAD stages, on CPU.

  PYTHONPATH=python /usr/bin/python3 -m cad_ref.train --budget quick          # ~1 h on 2 shared cores
  torchrun --nproc_per_node 4 -m cad_ref.train --budget full                  # DDP (gloo), same code

Stages (each writes its checkpoint into --out; a stage left out of --stages is loaded from there instead):
  vq      VQ-f4 autoencoder on the pretraining pool                             → vq.pth
  ldm     class-conditional LDM on VQ latents of the pool (the image prior)      → ldm.ckpt
  stage1  DC-MAE on unlabelled fMRI (sbj_3 train + simulated extra subjects)    → phase1.pth
  stage2  cross-modal guidance with a small image MAE                            → image_mae.pth, phase2.pth
  stage3  LDM fine-tuning on the training pairs, with conditioning dropout to a learned null context
                                                                                 → phase3.pth, phase3.safetensors
  lowlevel ridge fMRI → image PCs (the img2img start), alpha and norm factor on the validation pairs → lowlevel.json
  sweep   strength × guidance on the validation pairs, never the test set        → sweep.json (chosen settings)
  eval    the chosen settings on the 50 averaged test fMRI, vs a ridge baseline  → eval.json
  export  extras.safetensors (null context + low-level decoder), voxel_positions.safetensors (sbj_3's voxel_xyz),
          model_config.json, overrides.json and the bundle via src/cli/convert.ts → --bundle
"""
import argparse
import json
import os
import subprocess
import time

import numpy as np
import torch

from .common import BUDGETS, SEED, Run, default_subject, paired_images, pretraining_pool, subject_voxel_xyz
from .evaluate import evaluate, prior_check
from .prior import load_vq, run_ldm, run_vq
from .stage1 import build_mae, run_stage1
from .stage2 import run_stage2
from ..checkpoints import NULL_CONTEXT, VOXEL_XYZ_MM, load_safetensors as load_extras, save_safetensors
from .lowlevel import fit_lowlevel, save_extras
from .sampling import choose_lowlevel, sweep
from .stage3 import build_ldm, model_config, run_stage3

STAGES = ('vq', 'ldm', 'stage1', 'stage2', 'stage3', 'lowlevel', 'sweep', 'eval', 'export')


def parse():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--budget', choices=sorted(BUDGETS), default='quick')
    ap.add_argument('--out', default='.cache/train')
    ap.add_argument('--bundle', default='public/models/default')
    ap.add_argument('--stages', default=','.join(STAGES), help=f'comma list of {STAGES}')
    ap.add_argument('--threads', type=int, default=2)
    ap.add_argument('--ldm-ckpt', help='reuse this prior instead of <out>/ldm.ckpt when ldm is not run')
    ap.add_argument('--set', action='append', default=[], metavar='KEY=INT',
                    help='override one integer entry of the budget, e.g. --set s3_epochs=10')
    ap.add_argument('--no-contrast', action='store_true', help='ablation: stage 1 without the InfoNCE terms')
    ap.add_argument('--no-stage2', action='store_true', help='ablation: stage 3 starts from the stage-1 encoder')
    a = ap.parse_args()
    a.stages = [s for s in a.stages.split(',') if s]
    unknown = set(a.stages) - set(STAGES)
    if unknown:
        ap.error(f'unknown stages {sorted(unknown)}; expected a subset of {STAGES}')
    return a


def timed(run, name, fn):
    run.log(f'== {name} ==')
    t = time.time()
    result = fn()
    run.stage_times[name] = round(time.time() - t, 1)
    run.log(f'== {name} done in {run.stage_times[name]:.0f} s ==')
    return result


def export(run, a, cfg, result, settings=None):
    """Converter inputs next to the checkpoints, then the bundle: phase3.pth plus extras.safetensors (null context
    and low-level decoder) and voxel_positions.safetensors (where each input voxel is, so that a masked NIfTI's voxels
    are put into the training order), with the sampler settings chosen on the validation pairs as the model's
    defaults."""
    # every size explicitly: the converter cannot see head counts or the image side in the weights
    overrides = {k: v for k, v in cfg.items() if k != 'preprocess'}
    if settings:
        overrides['sampling'] = settings
    with open(run.path('overrides.json'), 'w') as f:
        json.dump(overrides, f, indent=1)
    with open(run.path('model_config.json'), 'w') as f:
        json.dump(cfg, f, indent=1)
    p = cfg['preprocess']
    extras = [run.path('extras.safetensors')] if os.path.exists(run.path('extras.safetensors')) else []
    # the converter checks it is [rawVoxels, 3]
    save_safetensors({VOXEL_XYZ_MM: torch.from_numpy(subject_voxel_xyz())}, run.path('voxel_positions.safetensors'),
                     metadata={'format': 'pt', 'producer': 'cad_ref.train export', 'units': 'mm (MNI)'})
    extras.append(run.path('voxel_positions.safetensors'))
    cmd = ['npx', 'tsx', 'src/cli/convert.ts', run.path('phase3.pth'), *extras, '--out', a.bundle, '--fp16',
           '--raw-voxels', str(p['rawVoxels']), '--mean', repr(p['mean']), '--std', repr(p['std']),
           '--config', run.path('overrides.json')]
    run.log('  export command:', ' '.join(cmd))
    if not os.path.exists('src/cli/convert.ts'):
        run.log('  src/cli/convert.ts not present yet: run the command above once it is')
        return
    subprocess.run(cmd, check=True)
    size = sum(os.path.getsize(os.path.join(a.bundle, f)) for f in os.listdir(a.bundle))
    run.log(f'  bundle {a.bundle}: {size / 1e6:.2f} MB')
    write_card(run, a, cfg, result, size)


def write_card(run, a, cfg, result, size):
    times = json.load(open(run.path('timings.json'))) if os.path.exists(run.path('timings.json')) else run.stage_times
    lines = [
        f'# Model card: {cfg["name"]}', '',
        '**SYNTHETIC.** Trained only on god-synth: fMRI responses simulated from a pRF/Gabor-energy encoding model '
        'on MNI atlas geometry, with Fashion-MNIST stimuli. Not real brain data; its accuracies say nothing about '
        'brains and are not comparable with GOD numbers.', '',
        '- Data: god-synth sbj_3 (1,200 single-trial training samples; 50 test images never used in training), '
        f'extra simulated subjects {run.budget["extra_subjects"]} for stage 1, and the Fashion-MNIST train split '
        'minus the 1,200 paired images for the image prior and the image MAE.',
        '- Stages: prior (VQ-f4 + class-conditional LDM) → 1 DC-MAE (masked reconstruction + self/cross InfoNCE, '
        'τ 0.1) → 2 cross-modal guidance (fMRI MAE + small image MAE trained from scratch, 3 cross layers each side) '
        '→ 3 LDM fine-tuning (encoder, mappers, UNet attn2/norm2/time_embed_condtion).',
        f'- Sizes: encoder {cfg["encoder"]}, cond {cfg["cond"]}, UNet {cfg["unet"]}, VQ {cfg["vq"]}.',
        f'- Budget `{run.budget_name}`; seeds fixed (base {SEED}); stage times (s, {a.threads} CPU thread(s)): {times}.',
        f'- Bundle: {size / 1e6:.2f} MB (fp16). Reproduce: `bash scripts/train-default.sh --budget {run.budget_name}` '
        '(see docs/training.md).',
    ]
    if os.path.exists(run.path('lowlevel.json')):
        low = json.load(open(run.path('lowlevel.json')))
        f = low.get('chosen_norm_factor')
        lines.append(f'- Low-level decoder (img2img start): ridge voxels → 64 image PCs, alpha {low["chosen_alpha"]:g}, '
                     + ('raw predictions' if f is None else
                        f'each prediction rescaled to {f:g} × the training images\' median PC norm (coef_norm)')
                     + ', both chosen on the validation pairs.')
    if result:
        lines += ['', 'Python-side check (synthetic data): ' + result['protocol'],
                  f'- model: {json.dumps({k: round(v, 3) for k, v in result["model"].items()})}',
                  f'- ridge → 64 PCs baseline: {json.dumps({k: round(v, 3) for k, v in result["ridge_pca64"].items()})}']
    with open(os.path.join(a.bundle, 'MODEL_CARD.md'), 'w') as f:
        f.write('\n'.join(lines) + '\n')


def save_timings(run):
    """Merges this run's stage times into timings.json: stages loaded from an earlier run keep that run's times."""
    if run.main:
        earlier = json.load(open(run.path('timings.json'))) if os.path.exists(run.path('timings.json')) else {}
        with open(run.path('timings.json'), 'w') as f:
            json.dump({k: v for k, v in {**earlier, **run.stage_times}.items() if k in STAGES}, f, indent=1)


def main():
    a = parse()
    torch.set_num_threads(a.threads)
    run = Run(a.out, a.budget)
    for item in a.set:
        key, _, value = item.partition('=')
        if key not in run.budget or not value.lstrip('-').isdigit():
            raise SystemExit(f'--set {item}: expected KEY=INT with KEY one of {sorted(run.budget)}')
        run.budget = {**run.budget, key: int(value)}
    run.log(f'budget {a.budget}: {run.budget}; world size {run.world}; stages {a.stages}')
    subject = default_subject()
    pool_u8, pool_labels = pretraining_pool()
    train_u8, _, _, _ = paired_images()
    cfg = model_config(subject)
    run.log(f'sbj_3: {subject["raw_voxels"]} voxels → {subject["num_voxels"]} padded; pool {len(pool_u8)} images')

    if 'vq' in a.stages:
        vq = timed(run, 'vq', lambda: run_vq(run, pool_u8))
    elif 'ldm' in a.stages:
        vq = load_vq(run.path('vq.pth'))
    if 'ldm' in a.stages:
        ldm_ckpt = timed(run, 'ldm', lambda: run_ldm(run, vq, pool_u8, pool_labels))
        if run.main:
            acc, _ = prior_check(ldm_ckpt)
            run.log(f'  prior check: {acc:.2f} of class-conditional samples classified as their class')
            with open(run.path('prior_check.json'), 'w') as f:
                json.dump({'class_acc_of_conditional_samples': acc, 'samples': 100, 'ddim_steps': 20}, f)
    elif {'stage3', 'lowlevel', 'sweep', 'eval', 'export'} & set(a.stages):  # stages 1-2 do not need the prior
        ldm_ckpt = torch.load(a.ldm_ckpt or run.path('ldm.ckpt'))

    if 'stage1' in a.stages:
        mae = timed(run, 'stage1', lambda: run_stage1(run, subject, contrastive=not a.no_contrast))
    else:
        mae = build_mae(subject['num_voxels'], not a.no_contrast)
        mae.load_state_dict(torch.load(run.path('phase1.pth'))['model'])

    if a.no_stage2:
        encoder_state = mae.state_dict()
    elif 'stage2' in a.stages:
        encoder_state = timed(run, 'stage2', lambda: run_stage2(run, subject, mae, pool_u8, train_u8)).state_dict()
    else:
        encoder_state = torch.load(run.path('phase2.pth'))['model']

    if not {'stage3', 'lowlevel', 'sweep', 'eval', 'export'} & set(a.stages):
        save_timings(run)
        run.log(f'all done in {time.time() - run.t0:.0f} s; stage times {run.stage_times}')
        return
    if 'stage3' in a.stages:
        ldm = timed(run, 'stage3', lambda: run_stage3(run, subject, cfg, ldm_ckpt, encoder_state, train_u8))
    else:
        ldm = build_ldm(cfg, ldm_ckpt, encoder_state)
        ckpt = torch.load(run.path('phase3.pth'))
        ldm.load_state_dict(ckpt['model_state_dict'])
        null_path = run.path('phase3_null_context.safetensors')
        ldm.null_context = load_extras(null_path)[NULL_CONTEXT] if os.path.exists(null_path) else None
        ldm.eval()

    if 'lowlevel' in a.stages and run.main:
        def lowlevel():
            extras, report = choose_lowlevel(run, subject, fit_lowlevel)
            extras[NULL_CONTEXT] = ldm.null_context.float()
            save_extras(run.path('extras.safetensors'), extras)
            with open(run.path('lowlevel.json'), 'w') as f:
                json.dump(report, f, indent=1)
        timed(run, 'lowlevel', lowlevel)
    extras = load_extras(run.path('extras.safetensors')) if os.path.exists(run.path('extras.safetensors')) else None

    settings = None
    if 'sweep' in a.stages and run.main:
        b = run.budget
        report = timed(run, 'sweep', lambda: sweep(run, ldm, extras, ldm.null_context, subject,
                                                     b['eval_samples'], b['eval_steps']))
        with open(run.path('sweep.json'), 'w') as f:
            json.dump(report, f, indent=1)
        run.log('  chosen on validation:', report['chosen'])
    if os.path.exists(run.path('sweep.json')):
        settings = json.load(open(run.path('sweep.json')))['chosen']

    result = None
    if 'eval' in a.stages and run.main:
        b = run.budget
        result, recs = timed(run, 'eval', lambda: evaluate(ldm, subject, b['eval_samples'], b['eval_steps'],
                                                           extras=extras, settings=settings))
        with open(run.path('eval.json'), 'w') as f:
            json.dump(result, f, indent=1)
        np.save(run.path('eval_recon.npy'), recs.astype(np.float16))
        run.log('  model :', json.dumps({k: round(v, 3) for k, v in result['model'].items()}))
        run.log('  ridge :', json.dumps({k: round(v, 3) for k, v in result['ridge_pca64'].items()}))
        run.log('  VQ ceiling:', json.dumps({k: round(v, 3) for k, v in result['vq_roundtrip_ceiling'].items()}))
    save_timings(run)
    if 'export' in a.stages and run.main:
        if result is None and os.path.exists(run.path('eval.json')):
            result = json.load(open(run.path('eval.json')))
        timed(run, 'export', lambda: export(run, a, cfg, result, settings))
    run.log(f'all done in {time.time() - run.t0:.0f} s; stage times {run.stage_times}')
    run.barrier()


if __name__ == '__main__':
    main()
