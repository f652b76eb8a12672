"""Stage 2 — cross-modal guidance (spec §3): the stage-1 fMRI MAE and an image MAE joined by cross-attention.

The hub `facebook/vit-mae-base` is not reachable here, so a small ViT-MAE-like image branch (patch 4 on 32×32,
2-D sin-cos positions, cls token, pre-LN blocks, MAE decoder, pixel MSE on masked patches) is first trained from
scratch on the pretraining pool, then frozen as upstream freezes the hub encoder. The cross layers follow §3.2
exactly (self-attention output not added residually; the same LN before both attentions) and sit where §3.3 puts
them. Loss γ_F·L_fMRI + γ_I·L_img with γ_F = 0.25, γ_I = 1.5 (README, GOD sbj_3).

Writes `image_mae.pth` {'model'} and `phase2.pth` {'model' (fMRI MAE + cross modules), 'model_image', 'config'}.
"""
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from ..fmri_mae import Block, MAEforFMRIContrast
from .common import SIZES, adamw_no_decay_1d, infinite, set_epoch, to_rgb, unwrap, warmup_cosine

GAMMA_F, GAMMA_I = 0.25, 1.5
LR = 2e-4  # upstream 5.3e-5 for 60 epochs; a few epochs here


def sincos_2d(dim, grid, cls_token=True):
    """MAE `get_2d_sincos_pos_embed`: half the channels encode the column (w), half the row (h); cls row zeros."""
    def one_d(d, pos):
        omega = 1. / 10000 ** (np.arange(d // 2, dtype=np.float64) / (d / 2.))
        out = np.einsum('m,d->md', pos.reshape(-1), omega)
        return np.concatenate([np.sin(out), np.cos(out)], axis=1)
    gw, gh = np.meshgrid(np.arange(grid, dtype=np.float64), np.arange(grid, dtype=np.float64))
    emb = np.concatenate([one_d(dim // 2, gw), one_d(dim // 2, gh)], axis=1)
    if cls_token:
        emb = np.concatenate([np.zeros([1, dim]), emb], axis=0)
    return torch.from_numpy(emb.astype(np.float32))[None]


class MultiHeadAttention(nn.Module):
    """HF ViT attention: separate query/key/value projections (with bias) and an output dense layer."""

    def __init__(self, dim, heads):
        super().__init__()
        self.heads = heads
        self.query, self.key, self.value, self.dense = (nn.Linear(dim, dim) for _ in range(4))

    def forward(self, x, kv):
        b, n, c = x.shape
        split = lambda t: t.reshape(b, t.shape[1], self.heads, c // self.heads).transpose(1, 2)
        q, k, v = split(self.query(x)), split(self.key(kv)), split(self.value(kv))
        attn = (q @ k.transpose(-2, -1) * (c // self.heads) ** -0.5).softmax(-1)
        return self.dense((attn @ v).transpose(1, 2).reshape(b, n, c))


class CrossLayer(nn.Module):
    """`ViTMAELayer` with do_cross_attention (spec §3.2):
    a = SelfAttn(LN_b(h)); c = CrossAttn(LN_b(a), kv=s); h1 = h + c; h2 = h1 + MLP(LN_a(h1))."""

    def __init__(self, dim, heads, mlp_ratio):
        super().__init__()
        self.layernorm_before = nn.LayerNorm(dim, eps=1e-12)
        self.attention = MultiHeadAttention(dim, heads)
        self.crossattention = MultiHeadAttention(dim, heads)
        self.layernorm_after = nn.LayerNorm(dim, eps=1e-12)
        self.intermediate = nn.Linear(dim, dim * mlp_ratio)
        self.output = nn.Linear(dim * mlp_ratio, dim)

    def forward(self, h, support):
        a = self.layernorm_before(h)
        a = self.attention(a, a)
        h1 = h + self.crossattention(self.layernorm_before(a), support)
        return h1 + self.output(F.gelu(self.intermediate(self.layernorm_after(h1))))


class ImageMAE(nn.Module):
    """Small ViT-MAE for 32×32×3 images with optional cross layers after the encoder blocks (`layer_cross`)."""

    def __init__(self):
        super().__init__()
        s = SIZES['img']
        self.patch = s['patch']
        self.grid = SIZES['vq']['resolution'] // s['patch']
        self.patch_embed = nn.Conv2d(3, s['dim'], s['patch'], s['patch'])
        self.cls_token = nn.Parameter(torch.zeros(1, 1, s['dim']))
        self.register_buffer('pos_embed', sincos_2d(s['dim'], self.grid))
        self.layers = nn.ModuleList([Block(s['dim'], s['heads'], s['mlp']) for _ in range(s['depth'])])
        self.layer_cross = nn.ModuleList([CrossLayer(s['dim'], s['heads'], s['mlp']) for _ in range(s['cross_layers'])])
        self.layernorm = nn.LayerNorm(s['dim'], eps=1e-12)
        self.decoder_embed = nn.Linear(s['dim'], s['dec_dim'])
        self.mask_token = nn.Parameter(torch.zeros(1, 1, s['dec_dim']))
        self.register_buffer('decoder_pos_embed', sincos_2d(s['dec_dim'], self.grid))
        self.decoder_layers = nn.ModuleList([Block(s['dec_dim'], s['dec_heads'], s['mlp']) for _ in range(s['dec_depth'])])
        self.decoder_norm = nn.LayerNorm(s['dec_dim'], eps=1e-12)
        self.decoder_pred = nn.Linear(s['dec_dim'], s['patch'] ** 2 * 3)
        nn.init.normal_(self.cls_token, std=.02)
        nn.init.normal_(self.mask_token, std=.02)

    def patchify(self, img):  # [B,3,H,W] → [B, L, p·p·3] (MAE order: row, col, then p, q, c)
        b, p, g = img.shape[0], self.patch, self.grid
        return img.reshape(b, 3, g, p, g, p).permute(0, 2, 4, 3, 5, 1).reshape(b, g * g, p * p * 3)

    def encode(self, img, mask_ratio, support=None):
        x = self.patch_embed(img).flatten(2).transpose(1, 2) + self.pos_embed[:, 1:]
        x, mask, ids_restore = MAEforFMRIContrast.random_masking(x, mask_ratio)
        x = torch.cat([(self.cls_token + self.pos_embed[:, :1]).expand(len(x), -1, -1), x], dim=1)
        for layer in self.layers:
            x = layer(x)
        if support is not None:
            for layer in self.layer_cross:
                x = layer(x, support)
        return self.layernorm(x), mask, ids_restore

    def decode(self, x, ids_restore):
        x = self.decoder_embed(x)
        tokens = torch.cat([x[:, 1:], self.mask_token.expand(len(x), ids_restore.shape[1] + 1 - x.shape[1], -1)], 1)
        tokens = torch.gather(tokens, 1, ids_restore[..., None].expand(-1, -1, x.shape[2]))
        x = torch.cat([x[:, :1], tokens], 1) + self.decoder_pos_embed
        for layer in self.decoder_layers:
            x = layer(x)
        return self.decoder_pred(self.decoder_norm(x))[:, 1:]

    def forward(self, img, mask_ratio, support=None):
        """Pixel MSE over masked patches (norm_pix_loss off)."""
        latent, mask, ids_restore = self.encode(img, mask_ratio, support)
        loss = ((self.decode(latent, ids_restore) - self.patchify(img)) ** 2).mean(-1)
        return (loss * mask).sum() / mask.sum()

    def frozen_names(self):
        return ('patch_embed', 'cls_token', 'layers.', 'layernorm.')


class FmriCross(nn.Module):
    """`MAEforFMRICross`: the stage-1 MAE plus cross_map_in, 3 cross layers and cross_map_out (spec §3.3)."""

    def __init__(self, mae):
        super().__init__()
        s = SIZES
        self.mae = mae
        dim = s['img']['dim']
        self.cross_map_in = nn.Linear(s['embed_dim'], dim)
        self.cross_blocks = nn.ModuleList([CrossLayer(dim, s['img']['heads'], s['img']['mlp'])
                                           for _ in range(s['img']['cross_layers'])])
        self.cross_map_out = nn.Linear(dim, s['embed_dim'])

    def support(self, x):
        """Unmasked fMRI pass without image support (blocks → LN), mapped to the image width: kv of the image side."""
        m = self.mae
        h = m.patch_embed(x) + m.pos_embed[:, 1:]
        h = torch.cat([(m.cls_token + m.pos_embed[:, :1]).expand(len(h), -1, -1), h], 1)
        for blk in m.blocks:
            h = blk(h)
        return self.cross_map_in(m.norm(h))

    def forward(self, x, image_support, mask_ratio=0.75):
        """Masked fMRI reconstruction loss with the image stream as cross-attention support."""
        m = self.mae
        h = m.patch_embed(x) + m.pos_embed[:, 1:]
        h, mask, ids_restore = m.random_masking(h, mask_ratio)
        h = torch.cat([(m.cls_token + m.pos_embed[:, :1]).expand(len(h), -1, -1), h], 1)
        for blk in m.blocks:
            h = blk(h)
        mapped = self.cross_map_in(h)
        c = mapped
        for layer in self.cross_blocks:
            c = layer(c, image_support)
        h = m.norm(self.cross_map_out(c + mapped))
        return m.forward_loss(x, m.forward_decoder(h, ids_restore), mask)


class CrossModalTrainer(nn.Module):
    def __init__(self, fmri, image):
        super().__init__()
        self.fmri, self.image = fmri, image

    def forward(self, x, img):
        with torch.no_grad():  # frozen image encoder, unmasked, no fMRI support: kv of the fMRI side
            image_support, _, _ = self.image.encode(img, 0.0)
        loss_f = self.fmri(x, image_support)
        loss_i = self.image(img, 0.5, support=self.fmri.support(x))
        return GAMMA_F * loss_f + GAMMA_I * loss_i, loss_f, loss_i


def pretrain_image_mae(run, pool_u8):
    b = run.budget
    run.seed(40)
    img = ImageMAE()
    model = run.wrap(img, find_unused=True)  # layer_cross idles without fMRI support
    opt = adamw_no_decay_1d(img.named_parameters(), 1e-3, 0.05)
    batches = infinite(run.loader([torch.arange(len(pool_u8))], b['img_mae_batch'], seed=41))
    for step in range(b['img_mae_steps']):
        warmup_cosine(opt, 1e-3, step, b['img_mae_steps'], 30)
        (idx,) = next(batches)
        loss = model(to_rgb(pool_u8[idx.numpy()]), 0.75)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if step % 100 == 0 or step == b['img_mae_steps'] - 1:
            run.log(f'  image MAE step {step}/{b["img_mae_steps"]} loss {loss.item():.4f}')
    img = unwrap(model)
    if run.main:
        torch.save({'model': img.state_dict()}, run.path('image_mae.pth'))
    return img


def run_stage2(run, subject, mae, pool_u8, train_u8, name='phase2.pth'):
    b = run.budget
    image = pretrain_image_mae(run, pool_u8)
    frozen = image.frozen_names()
    for n, p in image.named_parameters():
        p.requires_grad = not n.startswith(frozen)
    run.seed(50)
    fmri = FmriCross(mae)
    trainer = CrossModalTrainer(fmri, image)
    model = run.wrap(trainer, find_unused=True)
    params = [(f'fmri.{n}', p) for n, p in fmri.named_parameters()] + \
             [(f'image.{n}', p) for n, p in image.named_parameters() if p.requires_grad]
    opt = adamw_no_decay_1d(params, LR, 0.05)
    n = b.get('data_limit')
    x = torch.from_numpy(subject['train'])[:n, None, :]
    imgs = to_rgb(train_u8[subject['index'][:n]])
    loader = run.loader([x, imgs], b['s2_batch'], seed=51)
    total = b['s2_epochs'] * len(loader)
    step = 0
    for epoch in range(b['s2_epochs']):
        set_epoch(loader, epoch)
        sums = np.zeros(3)
        for xb, ib in loader:
            warmup_cosine(opt, LR, step, total, len(loader))
            loss, lf, li = model(xb, ib)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(fmri.parameters(), 0.8)  # clipped separately per modality, as upstream
            torch.nn.utils.clip_grad_norm_([p for p in image.parameters() if p.requires_grad], 0.8)
            opt.step()
            sums += [loss.item(), lf.item(), li.item()]
            step += 1
        m = sums / len(loader)
        run.log(f'  stage 2 epoch {epoch + 1}/{b["s2_epochs"]}: loss {m[0]:.4f} (fMRI MAE {m[1]:.4f}, image MAE {m[2]:.4f})')
    fmri = unwrap(model).fmri
    if run.main:
        sd = {k[len('mae.'):] if k.startswith('mae.') else k: v for k, v in fmri.state_dict().items()}
        torch.save({'model': sd, 'model_image': image.state_dict(), 'epoch': b['s2_epochs'] - 1,
                    'config': {'gamma_fmri': GAMMA_F, 'gamma_image': GAMMA_I, 'lr': LR, 'epochs': b['s2_epochs'],
                               'image_branch': 'ViT-MAE-like, trained from scratch on the pool (hub ViT-MAE unreachable)'}},
                   run.path(name))
    return fmri.mae
