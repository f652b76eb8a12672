"""Golden vectors and checkpoints for the parity tests of the TypeScript port.

    PYTHONPATH=python /usr/bin/python3 -m cad_ref.golden --preset tiny --seed 0 --out DIR

Weights are random but scaled so activations stay O(1), and norm gains / biases are non-trivial so
every tensor influences the outputs. Every file is described in python/README.md.
"""
import argparse
import copy
import json
import math
import os
import time

import numpy as np
import torch
import torch.nn as nn

from . import config as cfg_classes
from .checkpoints import save_safetensors, with_shared_storage
from .diffusion import FmriLDM, ddim_sample, guided_eps, plms_sample
from .fmri_mae import MAEforFMRIContrast, wrap_pad
from .lowlevel import COEF_NORM, EXTRA_NAMES as LOWLEVEL_NAMES, lowlevel_latent, lowlevel_pixels

PRESETS = {
    'tiny': {
        'name': 'golden-tiny',
        'description': 'Random weights for parity tests (python/cad_ref/golden.py); not a trained model.',
        'synthetic': False,
        'encoder': {'numVoxels': 112, 'patchSize': 16, 'embedDim': 128, 'depth': 2, 'numHeads': 2, 'mlpRatio': 1.0},
        'cond': {'numTokens': 7, 'midTokens': 3, 'outTokens': 77, 'condDim': 32},
        'unet': {'imageSize': 8, 'inChannels': 3, 'outChannels': 3, 'modelChannels': 32, 'channelMult': [1, 2],
                 'numResBlocks': 1, 'attentionResolutions': [1, 2], 'numHeads': 1, 'transformerDepth': 1,
                 'contextDim': 32, 'timeCond': True},
        'vq': {'embedDim': 3, 'nEmbed': 64, 'zChannels': 3, 'resolution': 32, 'inChannels': 3, 'outCh': 3, 'ch': 32,
               'chMult': [1, 2, 2], 'numResBlocks': 1, 'attnResolutions': []},
        'schedule': {'numTimesteps': 1000, 'linearStart': 0.0015, 'linearEnd': 0.0195},
        'preprocess': {'rawVoxels': 100},
        # Not part of ModelConfig: golden-only settings.
        '_golden': {'batch': 2, 'trainRows': 16, 'plmsSteps': 10, 'ddimSteps': 12, 'ddimEta': 0.5,
                    'unetT': [17.0, 640.0], 'strength': 0.5, 'guidance': 3.0, 'trailingSteps': 3, 'decoderEmbedDim': 64, 'decoderDepth': 1, 'decoderNumHeads': 2},
    },
}

# Output-layer gains that keep ε and images in a sensible range (ε ~ unit scale; image not all clamped).
# Classifier-free guidance's null context [77, condDim] in the bundle extras (shared plan, issue 16).
NULL_CONTEXT = 'decoding_studio.null_context'

GAINS = {'model.diffusion_model.out.2': 0.5, 'first_stage_model.decoder.conv_out': 0.5}


@torch.no_grad()
def randomize_(module, gen, prefix='', gains=None):
    """Fill every parameter with seeded random values: fan-in-scaled weights, biases ~N(0, 0.1²),
    norm gains ~1 + N(0, 0.2²), codebooks ~N(0, 1), learned tokens ~N(0, 0.1²)."""
    gains = gains or {}

    def randn(shape):
        return torch.randn(shape, generator=gen)

    for name, mod in module.named_modules(prefix=prefix):
        if isinstance(mod, (nn.Linear, nn.Conv1d, nn.Conv2d)):
            fan_in = mod.weight[0].numel()
            mod.weight.copy_(randn(mod.weight.shape) * gains.get(name, 1.0) / math.sqrt(fan_in))
            if mod.bias is not None:
                mod.bias.copy_(0.1 * randn(mod.bias.shape))
        elif isinstance(mod, (nn.LayerNorm, nn.GroupNorm)):
            mod.weight.copy_(1 + 0.2 * randn(mod.weight.shape))
            mod.bias.copy_(0.1 * randn(mod.bias.shape))
        elif isinstance(mod, nn.Embedding):
            mod.weight.copy_(randn(mod.weight.shape))
        for pname in ('cls_token', 'mask_token'):
            p = mod._parameters.get(pname)
            if p is not None:
                p.copy_(0.1 * randn(p.shape))


def build_ldm(cfg, gen):
    ldm = FmriLDM(cfg).eval()
    randomize_(ldm, gen, gains=GAINS)
    with torch.no_grad():
        # Phase 3 trains the positional table: sin-cos plus drift. The cls row (0) gets no gradient, stays zero.
        pos = ldm.cond_stage_model.mae.pos_embed
        pos[:, 1:].add_(0.05 * torch.randn(pos[:, 1:].shape, generator=gen))
    return ldm


def build_phase1(cfg, ldm, gen):
    """Phase-1 MAE whose encoder equals the phase-3 one (but with the exact sin-cos table)."""
    e, g = cfg['encoder'], cfg['_golden']
    mae = MAEforFMRIContrast(e['numVoxels'], e['patchSize'], e['embedDim'], e['depth'], e['numHeads'],
                             g['decoderEmbedDim'], g['decoderDepth'], g['decoderNumHeads'], e['mlpRatio'])
    randomize_(mae, gen)
    enc = ldm.cond_stage_model.mae.state_dict()
    sd = mae.state_dict()
    for k, v in enc.items():
        if k not in ('pos_embed', 'mask_token'):
            sd[k] = v.clone()
    mae.load_state_dict(sd)
    return mae


def phase1_config(cfg):
    c = cfg_classes.Config_MBM_fMRI_contrast()
    e, g = cfg['encoder'], cfg['_golden']
    c.patch_size, c.embed_dim, c.depth, c.num_heads, c.mlp_ratio = (
        e['patchSize'], e['embedDim'], e['depth'], e['numHeads'], e['mlpRatio'])
    c.decoder_embed_dim, c.decoder_depth, c.decoder_num_heads = g['decoderEmbedDim'], g['decoderDepth'], g['decoderNumHeads']
    c.fmri_channels = e['numVoxels'] // e['patchSize'] + 1
    c.do_self_contrast = c.do_cross_contrast = True
    return c


def phase1_checkpoint(cfg, mae, fmri_train, gen):
    """{'model', 'optimizer', 'epoch', 'scaler', 'config'} as `save_model`; the optimizer state comes from one real
    DC-MAE step on a copy, so the saved model keeps the phase-3 encoder values."""
    trained = copy.deepcopy(mae).train()
    decay = [p for n, p in trained.named_parameters() if p.requires_grad and p.ndim > 1 and 'token' not in n]
    no_decay = [p for n, p in trained.named_parameters() if p.requires_grad and (p.ndim <= 1 or 'token' in n)]
    opt = torch.optim.AdamW([{'params': no_decay, 'weight_decay': 0.}, {'params': decay, 'weight_decay': 0.05}],
                            lr=2.5e-4, betas=(0.9, 0.95))
    loss, _, _, parts = trained(torch.from_numpy(fmri_train)[:, None, :], mask_ratio=0.75, generator=gen)
    loss.backward()
    opt.step()
    scaler = {'scale': 65536.0, 'growth_factor': 2.0, 'backoff_factor': 0.5, 'growth_interval': 2000, '_growth_tracker': 0}
    ckpt = {'model': mae.state_dict(), 'optimizer': opt.state_dict(), 'epoch': 139, 'scaler': scaler,
            'config': phase1_config(cfg)}
    return ckpt, {k: float(v) for k, v in parts.items()} | {'total': float(loss)}


def ldm_checkpoint(ldm, cfg, gen):
    """CompVis cin Lightning checkpoint: no fMRI cond stage, no time_embed_condtion, a class embedder instead."""
    sd = {k: v for k, v in ldm.state_dict().items()
          if not k.startswith('cond_stage_model.') and 'time_embed_condtion' not in k}
    sd['cond_stage_model.embedding.weight'] = torch.randn(1001, cfg['cond']['condDim'], generator=gen)
    return {'epoch': 0, 'global_step': 0, 'state_dict': sd}


def lowlevel_extras(cfg, seed, k=8):
    """Random decoding_studio.lowlevel.* tensors (ridge [V, K], bias [K], components [K, R*R], mean [R*R], and
    coef_norm [1]) from their own generator, so the other goldens keep their values. Scaled so the pixels spread over
    [0, 1] with a few percent clamped at either end (the clamp is part of what the port must match); coef_norm is near
    the rows' own norm (≈ √K), so rescaled and raw pixels both keep that spread."""
    gen = torch.Generator().manual_seed(seed * 1000 + 16)
    v, rr = cfg['encoder']['numVoxels'], cfg['vq']['resolution'] ** 2
    w = torch.randn(v, k, generator=gen) / math.sqrt(v)
    b = 0.1 * torch.randn(k, generator=gen)
    comps = 0.25 * torch.randn(k, rr, generator=gen) / math.sqrt(k)
    mean = 0.5 + 0.1 * torch.randn(rr, generator=gen)
    return {**dict(zip(LOWLEVEL_NAMES, (w, b, comps, mean))), COEF_NORM: torch.tensor([0.8 * math.sqrt(k)])}


def code_margin(vq, z):
    """Smallest gap between the best and second-best squared code distance: how robust the argmin is."""
    zf = z.permute(0, 2, 3, 1).reshape(-1, z.shape[1])
    d = torch.cdist(zf.double(), vq.quantize.embedding.weight.double()) ** 2
    two = torch.topk(d, 2, dim=1, largest=False).values
    return float((two[:, 1] - two[:, 0]).min())


def generate(preset, seed, out):
    t0 = time.time()
    cfg = copy.deepcopy(PRESETS[preset])
    g = cfg['_golden']
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    os.makedirs(os.path.join(out, 'tensors'), exist_ok=True)

    def save(name, value):
        arr = value.detach().numpy() if torch.is_tensor(value) else np.asarray(value)
        np.save(os.path.join(out, name + '.npy'), arr)

    ldm = build_ldm(cfg, gen)
    unet = ldm.model.diffusion_model
    vq = ldm.first_stage_model
    b, raw_v = g['batch'], cfg['preprocess']['rawVoxels']

    # fMRI: a "training set" gives the scalar z-score statistics (after padding), as the GOD loader does.
    fmri_train_raw = (2.0 * torch.randn(g['trainRows'], raw_v, generator=gen) + 0.7).numpy()
    train_padded = wrap_pad(fmri_train_raw, cfg['encoder']['patchSize'])
    mean, std = float(train_padded.mean(dtype=np.float64)), float(train_padded.std(dtype=np.float64))
    cfg['preprocess'].update({'mean': mean, 'std': std})
    fmri_raw = (2.0 * torch.randn(b, raw_v, generator=gen) + 0.7).numpy()
    fmri = ((wrap_pad(fmri_raw, cfg['encoder']['patchSize']) - np.float32(mean)) / np.float32(std)).astype(np.float32)
    assert fmri.shape[1] == cfg['encoder']['numVoxels']
    save('fmri_raw', fmri_raw)
    save('fmri', fmri)

    with torch.no_grad():
        x_fmri = torch.from_numpy(fmri)[:, None, :]
        save('encoder_out', ldm.cond_stage_model.mae(x_fmri))
        cond = ldm.get_learned_conditioning(x_fmri)
        save('cond', cond)
        save('time_cond', unet.time_condition(cond))

        side = cfg['unet']['imageSize']
        unet_x = torch.randn(b, cfg['unet']['inChannels'], side, side, generator=gen)
        unet_t = torch.tensor(g['unetT'], dtype=torch.float32)
        save('unet_x', unet_x)
        save('unet_t', unet_t)
        save('unet_out', unet(unet_x, unet_t, cond))

        res = cfg['vq']['resolution']
        image_in = torch.rand(b, cfg['vq']['inChannels'], res, res, generator=gen) * 2 - 1
        encoded = vq.encode(image_in)
        save('vq_image_in', image_in)
        save('vq_encoded', encoded)
        save('vq_quantized', vq.quantize(encoded))
        save('vq_decoded', vq.decode(encoded))

        def eps_fn(x, t):
            return ldm.apply_model(x, t, cond)

        def to_image(z):
            return torch.clamp((ldm.decode_first_stage(z) + 1.0) / 2.0, 0.0, 1.0).permute(0, 2, 3, 1)

        latent = (b, cfg['vq']['embedDim'], side, side)
        ac = ldm.alphas_cumprod
        plms_xT = torch.randn(latent, generator=gen)
        plms = plms_sample(eps_fn, plms_xT, g['plmsSteps'], ac)
        ddim_xT = torch.randn(latent, generator=gen)
        ddim = ddim_sample(eps_fn, ddim_xT, g['ddimSteps'], g['ddimEta'], ac, gen)
        margins = {'vq_encoded': code_margin(vq, encoded)}
        for tag, rec, xT in (('plms', plms, plms_xT), ('ddim', ddim, ddim_xT)):
            save(f'{tag}_xT', xT)
            save(f'{tag}_timesteps', rec['timesteps'].astype(np.int64))
            for key in ('x_t', 'eps', 'x0') + (('noise',) if tag == 'ddim' else ()):
                save(f'{tag}_{key}', torch.stack(rec[key]))
            save(f'{tag}_final', rec['final'])
            save(f'{tag}_image', to_image(rec['final']))
            margins[f'{tag}_final'] = code_margin(vq, rec['final'])

        # img2img and classifier-free guidance (issue 16), from their own generator so the goldens above
        # and below keep their values: a fixed random init latent (not the low-level decoder's, so these
        # trajectories test the sampler alone) and a random null context, stored with the extras.
        g16 = torch.Generator().manual_seed(seed * 1000 + 17)
        x0_init = torch.randn(latent, generator=g16)
        null_ctx = 0.5 * torch.randn(cfg['cond']['outTokens'], cfg['cond']['condDim'], generator=g16)
        save('img2img_x0_init', x0_init)
        guided_fn = guided_eps(ldm.apply_model, cond, null_ctx, g['guidance'])
        runs = {}
        for variant, fn, kw in (('img2img', eps_fn, {'x0_init': x0_init, 'strength': g['strength']}),
                                ('guided', guided_fn, {})):
            xT = torch.randn(latent, generator=g16)
            runs[f'plms_{variant}'] = (plms_sample(fn, xT, g['plmsSteps'], ac, **kw), xT)
            xT = torch.randn(latent, generator=g16)
            runs[f'ddim_{variant}'] = (ddim_sample(fn, xT, g['ddimSteps'], g['ddimEta'], ac, g16, **kw), xT)
        # A step count whose uniform list would reach t = T (issue 12): diffusers' trailing spacing, from its
        # own generator so every golden above keeps its values.
        g12 = torch.Generator().manual_seed(seed * 1000 + 12)
        xT = torch.randn(latent, generator=g12)
        runs['plms_trailing'] = (plms_sample(eps_fn, xT, g['trailingSteps'], ac), xT)
        xT = torch.randn(latent, generator=g12)
        runs['ddim_trailing'] = (ddim_sample(eps_fn, xT, g['trailingSteps'], g['ddimEta'], ac, g12), xT)
        for tag, (rec, xT) in runs.items():
            save(f'{tag}_xT', xT)
            save(f'{tag}_timesteps', rec['timesteps'].astype(np.int64))
            for key in ('x_t', 'eps', 'x0') + (('noise',) if tag.startswith('ddim') else ()):
                save(f'{tag}_{key}', torch.stack(rec[key]))
            save(f'{tag}_final', rec['final'])

        # Low-level decoder (issue 16): its own file, as training writes it beside the authors' checkpoints.
        extras = {**lowlevel_extras(cfg, seed), NULL_CONTEXT: null_ctx}
        ll_pix, ll_z0 = lowlevel_latent(extras, vq, torch.from_numpy(fmri))
        save('lowlevel_pix', ll_pix)
        save('lowlevel_z0', ll_z0)
        save('lowlevel_pix_raw', lowlevel_pixels({k: v for k, v in extras.items() if k != COEF_NORM}, torch.from_numpy(fmri)))
        for k, v in extras.items():
            np.save(os.path.join(out, 'tensors', k + '.npy'), v.numpy())
        save_safetensors(extras, os.path.join(out, 'extras.safetensors'), metadata={'format': 'pt'})
        with open(os.path.join(out, 'extras.json'), 'w') as f:
            json.dump(sorted(extras), f, indent=0)

    # Checkpoints and the phase-3 tensors.
    sd = {k: v.detach().clone().contiguous() for k, v in ldm.state_dict().items()}
    names = sorted(sd)
    for k in names:
        np.save(os.path.join(out, 'tensors', k + '.npy'), sd[k].numpy())
    with open(os.path.join(out, 'tensors.json'), 'w') as f:
        json.dump(names, f, indent=0)
    quirky = with_shared_storage(sd, ['model.diffusion_model.out.2.weight', 'model.diffusion_model.out.2.bias',
                                      'model.diffusion_model.out.0.weight'])
    gen_cfg = cfg_classes.Config_Generative_Model()
    torch.save({'model_state_dict': quirky, 'config': gen_cfg, 'state': torch.random.get_rng_state()},
               os.path.join(out, 'phase3.pth'))
    torch.save({'model_state_dict': {k: v.half() for k, v in sd.items()}, 'config': gen_cfg,
                'state': torch.random.get_rng_state()}, os.path.join(out, 'phase3_fp16.pth'))
    save_safetensors(sd, os.path.join(out, 'phase3.safetensors'), metadata={'format': 'pt'})
    mae = build_phase1(cfg, ldm, gen)
    train_z = ((train_padded - mean) / std).astype(np.float32)
    p1, p1_losses = phase1_checkpoint(cfg, mae, train_z, gen)
    torch.save(p1, os.path.join(out, 'phase1.pth'))
    torch.save(ldm_checkpoint(ldm, cfg, gen), os.path.join(out, 'ldm.ckpt'))

    verify(out, sd)

    golden = cfg.pop('_golden')
    with open(os.path.join(out, 'model_config.json'), 'w') as f:
        json.dump(cfg, f, indent=2)
    with open(os.path.join(out, 'samplers.json'), 'w') as f:
        json.dump({'plms': {'steps': golden['plmsSteps']}, 'ddim': {'steps': golden['ddimSteps'], 'eta': golden['ddimEta']},
                   'img2img': {'strength': golden['strength']}, 'guided': {'guidance': golden['guidance']},
                   'trailing': {'steps': golden['trailingSteps']}}, f)
    info = {'preset': preset, 'seed': seed, 'torch': torch.__version__, 'codeMargins': margins,
            'phase1Loss': p1_losses, 'seconds': round(time.time() - t0, 2)}
    with open(os.path.join(out, 'info.json'), 'w') as f:
        json.dump(info, f, indent=2)
    return info


def verify(out, sd):
    """Read every written checkpoint back and compare with the in-memory phase-3 state dict."""
    def same(a, b, what):
        if a.keys() != b.keys():
            raise AssertionError(f'{what}: names differ: {sorted(set(a) ^ set(b))[:5]}')
        for k in a:
            if not torch.equal(a[k], b[k]):
                raise AssertionError(f'{what}: {k} differs')

    p3 = torch.load(os.path.join(out, 'phase3.pth'))
    same(p3['model_state_dict'], sd, 'phase3.pth')
    assert type(p3['config']).__name__ == 'Config_Generative_Model' and p3['state'].dtype == torch.uint8
    p3h = torch.load(os.path.join(out, 'phase3_fp16.pth'))['model_state_dict']
    same(p3h, {k: v.half() for k, v in sd.items()}, 'phase3_fp16.pth')
    same({k: torch.from_numpy(np.load(os.path.join(out, 'tensors', k + '.npy'))) for k in sd}, sd, 'tensors/')
    ldm = torch.load(os.path.join(out, 'ldm.ckpt'))['state_dict']
    same({k: v for k, v in ldm.items() if k != 'cond_stage_model.embedding.weight'},
         {k: v for k, v in sd.items() if not k.startswith('cond_stage_model.') and 'time_embed_condtion' not in k}, 'ldm.ckpt')
    p1 = torch.load(os.path.join(out, 'phase1.pth'))
    for k, v in p1['model'].items():
        if k not in ('pos_embed', 'mask_token') and not k.startswith('decoder'):
            assert torch.equal(v, sd['cond_stage_model.mae.' + k]), f'phase1.pth: {k} differs from phase 3'


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--preset', default='tiny', choices=sorted(PRESETS))
    ap.add_argument('--seed', type=int, default=0)
    ap.add_argument('--out', required=True)
    args = ap.parse_args()
    torch.set_num_threads(1)
    info = generate(args.preset, args.seed, args.out)
    print(json.dumps(info))


if __name__ == '__main__':
    main()
