"""Image prior standing in for the CompVis ImageNet LDM: a VQ-f4 autoencoder and a class-conditional LDM UNet,
both trained on the Fashion-MNIST pretraining pool (never the paired training images' test split).

Writes `vq.pth` {'state_dict', 'stats'} (stage `vq`) and `ldm.ckpt` (stage `ldm`) in the CompVis Lightning layout: {'epoch', 'global_step', 'state_dict'} with
`model.diffusion_model.*`, `first_stage_model.*`, the schedule buffers and the class embedder
`cond_stage_model.embedding.weight` (no `time_embed_condtion`: phase 3 adds it, as upstream).
"""
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from ..diffusion import make_schedule
from ..unet import UNetModel
from ..vq import VQModelInterface
from .common import SIZES, adamw_no_decay_1d, infinite, to_rgb, unwrap, warmup_cosine


def build_vq():
    v = SIZES['vq']
    return VQModelInterface(v['embedDim'], v['nEmbed'], v['zChannels'], v['resolution'], v['inChannels'], v['outCh'],
                            v['ch'], v['chMult'], v['numResBlocks'], v['attnResolutions'])


def build_unet(time_cond):
    u = SIZES['unet']
    return UNetModel(u['imageSize'], u['inChannels'], u['modelChannels'], u['outChannels'], u['numResBlocks'],
                     u['attentionResolutions'], u['channelMult'], u['numHeads'], u['transformerDepth'], u['contextDim'],
                     use_time_cond=time_cond, cond_tokens=SIZES['out_tokens'])


class VQTrainer(nn.Module):
    """Reconstruction loss (L1 + MSE); with `quantize`, straight-through VQ with codebook + 0.25 commitment terms
    (taming's VectorQuantizer loss, without the perceptual/GAN terms a 32×32 grey prior does not need)."""

    def __init__(self, vq):
        super().__init__()
        self.vq = vq

    def forward(self, x, quantize):
        z = self.vq.encode(x)
        if quantize:
            zq = self.vq.quantize(z)
            vq_loss = F.mse_loss(zq, z.detach()) + 0.25 * F.mse_loss(z, zq.detach())
            z = z + (zq - z).detach()
        else:
            vq_loss = torch.zeros(())
        rec = self.vq.decoder(self.vq.post_quant_conv(z))
        return F.l1_loss(rec, x) + F.mse_loss(rec, x) + vq_loss


@torch.no_grad()
def encode_all(vq, images_u8, batch=256):
    return torch.cat([vq.encode(to_rgb(images_u8[i:i + batch])) for i in range(0, len(images_u8), batch)])


@torch.no_grad()
def kmeans_codebook(vq, images_u8, seed):
    """Codebook initialised by k-means on encoder outputs, so no code starts dead."""
    from sklearn.cluster import KMeans
    z = encode_all(vq, images_u8).permute(0, 2, 3, 1).reshape(-1, SIZES['vq']['embedDim']).numpy()
    z = z[np.random.default_rng(seed).choice(len(z), min(len(z), 40000), replace=False)]
    km = KMeans(SIZES['vq']['nEmbed'], n_init=1, max_iter=50, random_state=seed).fit(z)
    vq.quantize.embedding.weight.copy_(torch.from_numpy(km.cluster_centers_).float())


@torch.no_grad()
def restart_dead_codes(vq, z, counts):
    """Codes unused since the last check jump to random current encoder outputs."""
    dead = torch.nonzero(counts == 0).flatten()
    if len(dead):
        flat = z.permute(0, 2, 3, 1).reshape(-1, z.shape[1])
        vq.quantize.embedding.weight[dead] = flat[torch.randint(len(flat), (len(dead),))]
    return len(dead)


@torch.no_grad()
def normalise_latents(vq, images_u8):
    """Fold a per-channel shift m and one scale σ into quant_conv, the codebook and post_quant_conv so encoded
    latents have mean 0 and std 1 (the LDM uses them raw, scale_factor 1.0). A shared scale and a shift leave the
    nearest-code assignment unchanged, so decode(encode(x)) is the same function as before."""
    z = encode_all(vq, images_u8)
    m = z.mean(dim=(0, 2, 3))
    s = (z - m[None, :, None, None]).std()
    qc, pqc, emb = vq.quant_conv, vq.post_quant_conv, vq.quantize.embedding.weight
    qc.weight.div_(s)
    qc.bias.sub_(m).div_(s)
    pqc.bias.add_(pqc.weight[:, :, 0, 0] @ m)
    pqc.weight.mul_(s)
    emb.sub_(m).div_(s)
    return m.tolist(), float(s)


def train_vq(run, pool_u8):
    b = run.budget
    run.seed(10)
    vq = build_vq()
    trainer = run.wrap(VQTrainer(vq), find_unused=True)  # the codebook idles in the AE phase
    opt = torch.optim.Adam(vq.parameters(), lr=1e-3)
    images = torch.arange(len(pool_u8))
    batches = infinite(run.loader([images], b['vq_batch'], seed=11))
    total = b['vq_ae_steps'] + b['vq_steps']
    counts = torch.zeros(SIZES['vq']['nEmbed'])
    for step in range(total):
        quantize = step >= b['vq_ae_steps']
        if step == b['vq_ae_steps']:  # switch from plain AE to VQ: seed the codebook from the encoder
            kmeans_codebook(vq, pool_u8[:2000], seed=12)
            if run.world > 1:
                torch.distributed.broadcast(vq.quantize.embedding.weight.data, 0)
        warmup_cosine(opt, 1e-3, step, total, 50)
        (idx,) = next(batches)
        x = to_rgb(pool_u8[idx.numpy()])
        loss = trainer(x, quantize)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if quantize:
            with torch.no_grad():
                z = vq.encode(x)
                counts += torch.bincount(vq.quantize.indices(z).flatten(), minlength=len(counts)).float()
                if (step + 1) % 100 == 0:
                    dead = restart_dead_codes(vq, z, counts)
                    if run.world > 1:
                        torch.distributed.broadcast(vq.quantize.embedding.weight.data, 0)
                    counts.zero_()
                    run.log(f'  vq step {step + 1}/{total} loss {loss.item():.4f} restarted {dead} dead codes')
        if step % 100 == 0:
            run.log(f'  vq step {step}/{total} loss {loss.item():.4f} ({"vq" if quantize else "ae"})')
    vq.eval()
    shift, scale = normalise_latents(vq, pool_u8[:4000])
    with torch.no_grad():
        x = to_rgb(pool_u8[-500:])
        mse = F.mse_loss(vq.decode(vq.encode(x)), x).item()
    run.log(f'  vq done: latent shift {np.round(shift, 3).tolist()} scale {scale:.3f}; recon MSE (quantised, [-1,1]) {mse:.4f}')
    return vq, dict(recon_mse=mse)


class ClassLDMTrainer(nn.Module):
    """ε-prediction MSE of the class-conditional UNet; context = CompVis ClassEmbedder output [B, 1, condDim]."""

    def __init__(self, unet, num_classes, schedule):
        super().__init__()
        self.unet = unet
        self.embedding = nn.Embedding(num_classes, SIZES['cond_dim'])
        self.register_buffer('sqrt_ac', schedule['sqrt_alphas_cumprod'])
        self.register_buffer('sqrt_1mac', schedule['sqrt_one_minus_alphas_cumprod'])

    def forward(self, z, y):
        t = torch.randint(0, len(self.sqrt_ac), (len(z),))
        eps = torch.randn_like(z)
        x_t = self.sqrt_ac[t][:, None, None, None] * z + self.sqrt_1mac[t][:, None, None, None] * eps
        return F.mse_loss(self.unet(x_t, t, self.embedding(y)[:, None, :]), eps)


def train_class_ldm(run, vq, pool_u8, pool_labels):
    b = run.budget
    run.seed(20)
    n = min(b['prior_images'], len(pool_u8))
    pick = np.random.default_rng(21).choice(len(pool_u8), n, replace=False)
    latents = encode_all(vq, pool_u8[pick])
    labels = torch.from_numpy(pool_labels[pick])
    run.log(f'  encoded {n} pool images: latent mean {latents.mean():.3f} std {latents.std():.3f}')
    s = SIZES['schedule']
    schedule = make_schedule(s['numTimesteps'], s['linearStart'], s['linearEnd'])
    trainer = ClassLDMTrainer(build_unet(time_cond=False), SIZES['num_classes'], schedule)
    model = run.wrap(trainer)
    opt = adamw_no_decay_1d(trainer.named_parameters(), 5e-4, 0.0, betas=(0.9, 0.999))
    batches = infinite(run.loader([latents, labels], b['ldm_batch'], seed=22))
    for step in range(b['ldm_steps']):
        warmup_cosine(opt, 5e-4, step, b['ldm_steps'], 50)
        z, y = next(batches)
        loss = model(z, y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(trainer.parameters(), 1.0)
        opt.step()
        if step % 50 == 0 or step == b['ldm_steps'] - 1:
            run.log(f'  ldm step {step}/{b["ldm_steps"]} loss {loss.item():.4f}')
    return unwrap(model), schedule


def ldm_checkpoint(vq, trainer, schedule):
    """CompVis cin-style Lightning checkpoint of the prior."""
    sd = {f'model.diffusion_model.{k}': v for k, v in trainer.unet.state_dict().items()}
    sd.update({f'first_stage_model.{k}': v for k, v in vq.state_dict().items()})
    sd.update(schedule)
    sd['cond_stage_model.embedding.weight'] = trainer.embedding.weight.detach()
    return {'epoch': 0, 'global_step': 0, 'state_dict': {k: v.detach().clone().contiguous() for k, v in sd.items()}}


def run_vq(run, pool_u8):
    vq, stats = train_vq(run, pool_u8)
    if run.main:
        torch.save({'state_dict': vq.state_dict(), 'stats': stats}, run.path('vq.pth'))
    return vq


def load_vq(path):
    vq = build_vq()
    vq.load_state_dict(torch.load(path)['state_dict'])
    return vq.eval()


def run_ldm(run, vq, pool_u8, pool_labels):
    trainer, schedule = train_class_ldm(run, vq, pool_u8, pool_labels)
    ckpt = ldm_checkpoint(vq, trainer, schedule)
    if run.main:
        torch.save(ckpt, run.path('ldm.ckpt'))
    return ckpt
