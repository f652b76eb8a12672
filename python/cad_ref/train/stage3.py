"""Stage 3 — LDM fine-tuning with fMRI conditioning (spec §4.6).

Loaded: UNet + VQ + schedule from the prior's `ldm.ckpt` (class embedder dropped, `time_embed_condtion` new), the
fMRI encoder from the stage-2 (or stage-1) checkpoint (`mask_token`, decoder and cross keys ignored). Trained:
`cond_stage_model` (encoder incl. positional table, channel_mapper, dim_mapper) and UNet parameters whose name
contains `attn2`, `norm2` or `time_embed_condtion`; everything else frozen. ε-prediction MSE on the training
pairs (1,050: the validation pairs are held out; latents from the frozen VQ encoder). Writes `phase3.pth`
{'model_state_dict', 'config', 'state'}, `phase3.safetensors` and `phase3_null_context.safetensors`.

Classifier-free guidance (Ho & Salimans 2022, as Stable Diffusion trains it): with probability
`s3_uncond_pct`/100 a training pair's conditioning is replaced by a LEARNED null context [77, condDim]
(initialised at zero, trained with the mappers' learning rate). The UNet sees it in cross-attention and in
`time_embed_condtion`, so ε(x_t, t, c_null) is the unconditional model that guided sampling contrasts
with. It is not part of the authors' state dict: it goes to the bundle as `decoding_studio.null_context`.
"""
import torch
import torch.nn as nn
import torch.nn.functional as F

from .. import config as cfg_classes
from ..checkpoints import NULL_CONTEXT, save_safetensors
from ..diffusion import FmriLDM
from .common import SIZES, set_epoch, to_rgb, unwrap, warmup_cosine

LR = 3e-4  # UNet parts; upstream 5.3e-5 for 700 epochs, a few epochs here
LR_COND = 1e-3  # the new, randomly initialised channel and dim mappers have the most to learn in so few steps
LR_ENCODER = 1e-3  # the pre-trained fMRI encoder
TRAINABLE_UNET = ('attn2', 'norm2', 'time_embed_condtion')


def model_config(subject, name='default-god-synth-sbj3'):
    """The ModelConfig (TS field names) of the default model."""
    s = SIZES
    num_tokens = subject['num_voxels'] // s['patch_size']
    return {
        'name': name,
        'description': 'Embedded default model trained on the SYNTHETIC god-synth sbj_3 set (simulated fMRI, '
                       'Fashion-MNIST stimuli). Not real brain data.',
        'synthetic': True,
        'encoder': {'numVoxels': subject['num_voxels'], 'patchSize': s['patch_size'], 'embedDim': s['embed_dim'],
                    'depth': s['depth'], 'numHeads': s['num_heads'], 'mlpRatio': s['mlp_ratio']},
        'cond': {'numTokens': num_tokens, 'midTokens': num_tokens // 2, 'outTokens': s['out_tokens'],
                 'condDim': s['cond_dim']},
        'unet': dict(s['unet']),
        'vq': dict(s['vq']),
        'schedule': dict(s['schedule']),
        'preprocess': {'rawVoxels': subject['raw_voxels'], 'roi': 'VC', 'mean': subject['mean'], 'std': subject['std']},
    }


def build_ldm(cfg, ldm_ckpt, encoder_state):
    ldm = FmriLDM(cfg)
    prior = {k: v for k, v in ldm_ckpt['state_dict'].items() if not k.startswith('cond_stage_model.')}
    missing, unexpected = ldm.load_state_dict(prior, strict=False)
    assert not unexpected, f'unexpected prior keys {unexpected[:5]}'
    assert all(k.startswith('cond_stage_model.') or 'time_embed_condtion' in k for k in missing), missing
    enc = {k: v for k, v in encoder_state.items()
           if not k.startswith(('decoder', 'cross', 'mask_token')) and k in ldm.cond_stage_model.mae.state_dict()}
    missing, _ = ldm.cond_stage_model.mae.load_state_dict(enc, strict=False)
    assert missing == ['mask_token'], f'encoder keys missing from the stage-2 checkpoint: {missing}'
    for n, p in ldm.named_parameters():
        p.requires_grad = n.startswith('cond_stage_model.') or (
            n.startswith('model.diffusion_model.') and any(t in n for t in TRAINABLE_UNET))
    # time_embed_condtion is new: zero its output layer so training starts from the prior's exact behaviour
    nn.init.zeros_(ldm.model.diffusion_model.time_embed_condtion[2].weight)
    nn.init.zeros_(ldm.model.diffusion_model.time_embed_condtion[2].bias)
    mae = ldm.cond_stage_model.mae
    mae.pos_embed.requires_grad = True  # upstream switches the table to trainable
    mae.cls_token.requires_grad = mae.mask_token.requires_grad = False  # unused by the phase-3 encoder (DDP needs every trained parameter used)
    return ldm


class Stage3Trainer(nn.Module):
    """ε-MSE; each conditioning vector is paired with `repeat` independent (t, ε) draws (cheaper than re-encoding).
    A share `p_uncond` of the conditioning vectors is replaced by the learned null context (dropout for
    classifier-free guidance)."""

    def __init__(self, ldm, repeat, p_uncond, out_tokens, cond_dim):
        super().__init__()
        self.ldm, self.repeat, self.p_uncond = ldm, repeat, p_uncond
        self.null_context = nn.Parameter(torch.zeros(out_tokens, cond_dim))

    def forward(self, fmri, z):
        c = self.ldm.get_learned_conditioning(fmri)
        drop = torch.rand(len(c)) < self.p_uncond
        c = torch.where(drop[:, None, None], self.null_context.expand_as(c), c)
        c = c.repeat_interleave(self.repeat, 0)
        z = z.repeat_interleave(self.repeat, 0)
        t = torch.randint(0, self.ldm.num_timesteps, (len(z),))
        eps = torch.randn_like(z)
        x_t = self.ldm.sqrt_alphas_cumprod[t][:, None, None, None] * z + \
            self.ldm.sqrt_one_minus_alphas_cumprod[t][:, None, None, None] * eps
        return F.mse_loss(self.ldm.apply_model(x_t, t, c), eps)


def generative_config(cfg, epochs, batch):
    c = cfg_classes.Config_Generative_Model()
    c.dataset, c.kam_subs, c.img_size, c.lr, c.num_epoch, c.batch_size = 'GOD-synth', ['sbj_3'], 32, LR_COND, epochs, batch
    c.num_samples, c.ddim_steps = 1, 20
    c.model_meta = cfg
    return c


def run_stage3(run, subject, cfg, ldm_ckpt, encoder_state, train_u8, name='phase3'):
    b = run.budget
    run.seed(60)
    ldm = build_ldm(cfg, ldm_ckpt, encoder_state)
    ldm.first_stage_model.eval()
    with torch.no_grad():
        z = torch.cat([ldm.first_stage_model.encode(to_rgb(train_u8[subject['index'][i:i + 200]]))
                       for i in range(0, len(subject['index']), 200)])
    n = b.get('data_limit')
    x, z = torch.from_numpy(subject['train'])[:n, None, :], z[:n]
    trainable = [p for p in ldm.parameters() if p.requires_grad]
    run.log(f'  stage 3: {sum(p.numel() for p in trainable)} trainable of {sum(p.numel() for p in ldm.parameters())} '
            f'parameters; latents {tuple(z.shape)} std {z.std():.3f}')
    trainer = Stage3Trainer(ldm, b['s3_repeat'], b['s3_uncond_pct'] / 100, cfg['cond']['outTokens'],
                            cfg['cond']['condDim'])
    model = run.wrap(trainer)
    cs = ldm.cond_stage_model
    encoder = [p for p in cs.mae.parameters() if p.requires_grad]
    mappers = [p for n, p in cs.named_parameters() if p.requires_grad and not n.startswith('mae.')]
    mappers.append(trainer.null_context)
    unet = [p for p in ldm.model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW([{'params': encoder, 'base_lr': LR_ENCODER}, {'params': mappers, 'base_lr': LR_COND},
                             {'params': unet, 'base_lr': LR}], weight_decay=0.01)
    loader = run.loader([x, z], b['s3_batch'], seed=61)
    total = b['s3_epochs'] * len(loader)
    step = 0
    for epoch in range(b['s3_epochs']):
        set_epoch(loader, epoch)
        acc = 0.
        for xb, zb in loader:
            warmup_cosine(opt, 1., step, total, len(loader), per_group=True)
            loss = model(xb, zb)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(trainable + [trainer.null_context], 0.5)
            opt.step()
            acc += loss.item()
            step += 1
        run.log(f'  stage 3 epoch {epoch + 1}/{b["s3_epochs"]}: ε-MSE {acc / len(loader):.4f}')
    ldm = unwrap(model).ldm.eval()
    ldm.null_context = trainer.null_context.detach().clone()
    if run.main:
        sd = {k: v.detach().clone().contiguous() for k, v in ldm.state_dict().items()}
        torch.save({'model_state_dict': sd, 'config': generative_config(cfg, b['s3_epochs'], b['s3_batch']),
                    'state': torch.random.get_rng_state()}, run.path(f'{name}.pth'))
        save_safetensors(sd, run.path(f'{name}.safetensors'), metadata={'format': 'pt'})
        # beside, not inside, the phase-3 dict: that keeps the authors' layout exactly
        save_safetensors({NULL_CONTEXT: ldm.null_context.contiguous()}, run.path(f'{name}_null_context.safetensors'))
    return ldm
