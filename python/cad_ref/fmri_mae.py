"""fMRI masked auto-encoder (vis_dec `sc_mbm/mae_for_fmri.py`, timm 0.5.4 `Block`), spec §2.

`MAEforFMRIContrast` is the phase-1 model (encoder + decoder + DC-MAE losses); `FmriEncoder` is the
phase-3 `cond_stage_model.mae` (MinD-Vis `fmri_encoder`): patch embed → + pos[1:] → blocks → norm.
"""
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


def sincos_pos_embed(dim, num_patches, cls_token=True):
    """MAE 1-D table [num_patches (+1), dim]: row for position p = [sin(p·ω), cos(p·ω)], cls row zeros."""
    omega = 1. / 10000 ** (np.arange(dim // 2, dtype=np.float64) / (dim / 2.))
    out = np.einsum('m,d->md', np.arange(num_patches, dtype=np.float64), omega)
    emb = np.concatenate([np.sin(out), np.cos(out)], axis=1)
    if cls_token:
        emb = np.concatenate([np.zeros([1, dim]), emb], axis=0)
    return emb.astype(np.float32)


def wrap_pad(x, patch_size=16):
    """Append `patch_size - V % patch_size` voxels in numpy 'wrap' mode (a full patch when aligned)."""
    pad = patch_size - x.shape[-1] % patch_size
    widths = [(0, 0)] * (x.ndim - 1) + [(0, pad)]
    return np.pad(x, widths, mode='wrap')


class PatchEmbed1D(nn.Module):
    def __init__(self, num_voxels, patch_size, in_chans, embed_dim):
        super().__init__()
        self.patch_size = patch_size
        self.num_patches = num_voxels // patch_size
        self.proj = nn.Conv1d(in_chans, embed_dim, kernel_size=patch_size, stride=patch_size)

    def forward(self, x):  # [B, 1, V] → [B, L, D]
        return self.proj(x).transpose(1, 2).contiguous()


class Attention(nn.Module):
    def __init__(self, dim, num_heads):
        super().__init__()
        self.num_heads = num_heads
        self.scale = (dim // num_heads) ** -0.5
        self.qkv = nn.Linear(dim, dim * 3, bias=True)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x):
        b, n, c = x.shape
        qkv = self.qkv(x).reshape(b, n, 3, self.num_heads, c // self.num_heads).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        attn = (q @ k.transpose(-2, -1) * self.scale).softmax(dim=-1)
        return self.proj((attn @ v).transpose(1, 2).reshape(b, n, c))


class Mlp(nn.Module):
    def __init__(self, dim, hidden):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x):
        return self.fc2(self.act(self.fc1(x)))


class Block(nn.Module):
    """timm ViT block, pre-LN, exact GELU, LayerNorm eps 1e-5."""

    def __init__(self, dim, num_heads, mlp_ratio):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn = Attention(dim, num_heads)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = Mlp(dim, int(dim * mlp_ratio))

    def forward(self, x):
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


def info_nce(query, key, temperature=0.1):
    """Unpaired InfoNCE: cosine-similarity matrix / τ, cross-entropy with the diagonal as target."""
    num = query @ key.T
    den = torch.sqrt(torch.outer((query * query).sum(1), (key * key).sum(1))).clamp_min(1e-8)
    return F.cross_entropy(num / den / temperature, torch.arange(len(query)))


class MAEforFMRIContrast(nn.Module):
    """Phase-1 DC-MAE. Loss as coded upstream: w_mask·L_mae + w_outer·(w_self·L_self + w_cross·L_cross)."""

    def __init__(self, num_voxels, patch_size=16, embed_dim=1024, depth=24, num_heads=16,
                 decoder_embed_dim=512, decoder_depth=8, decoder_num_heads=16, mlp_ratio=1.0,
                 do_mask_loss=False, do_self_contrast=True, do_cross_contrast=True, mask_loss_weight=1.0,
                 contrastive_loss_weight=0.5, self_contrast_loss_weight=0.5, cross_contrast_loss_weight=0.5,
                 temperature=0.1):
        super().__init__()
        self.patch_embed = PatchEmbed1D(num_voxels, patch_size, 1, embed_dim)
        num_patches = self.patch_embed.num_patches
        self.cls_token = nn.Parameter(torch.zeros(1, 1, embed_dim))
        self.pos_embed = nn.Parameter(torch.from_numpy(sincos_pos_embed(embed_dim, num_patches))[None],
                                      requires_grad=False)
        self.blocks = nn.ModuleList([Block(embed_dim, num_heads, mlp_ratio) for _ in range(depth)])
        self.norm = nn.LayerNorm(embed_dim)
        self.decoder_embed = nn.Linear(embed_dim, decoder_embed_dim)
        self.mask_token = nn.Parameter(torch.zeros(1, 1, decoder_embed_dim))
        self.decoder_pos_embed = nn.Parameter(
            torch.from_numpy(sincos_pos_embed(decoder_embed_dim, num_patches))[None], requires_grad=False)
        self.decoder_blocks = nn.ModuleList(
            [Block(decoder_embed_dim, decoder_num_heads, mlp_ratio) for _ in range(decoder_depth)])
        self.decoder_norm = nn.LayerNorm(decoder_embed_dim)
        self.decoder_pred = nn.Linear(decoder_embed_dim, patch_size)
        self.patch_size = patch_size
        self.do_mask_loss, self.do_self_contrast, self.do_cross_contrast = do_mask_loss, do_self_contrast, do_cross_contrast
        self.mask_loss_weight = mask_loss_weight
        self.contrastive_loss_weight = contrastive_loss_weight
        self.self_contrast_loss_weight = self_contrast_loss_weight
        self.cross_contrast_loss_weight = cross_contrast_loss_weight
        self.temperature = temperature

    def patchify(self, imgs):  # [N, 1, V] → [N, L, p]
        return imgs.reshape(imgs.shape[0], imgs.shape[2] // self.patch_size, self.patch_size)

    def unpatchify(self, x):  # [N, L, p] → [N, 1, V]
        return x.reshape(x.shape[0], 1, x.shape[1] * self.patch_size)

    @staticmethod
    def random_masking(x, mask_ratio, generator=None):
        n, length, d = x.shape
        len_keep = int(length * (1 - mask_ratio))
        noise = torch.rand(n, length, generator=generator)
        ids_shuffle = torch.argsort(noise, dim=1)  # small is keep, large is remove
        ids_restore = torch.argsort(ids_shuffle, dim=1)
        x_masked = torch.gather(x, 1, ids_shuffle[:, :len_keep].unsqueeze(-1).repeat(1, 1, d))
        mask = torch.ones(n, length)
        mask[:, :len_keep] = 0
        return x_masked, torch.gather(mask, 1, ids_restore), ids_restore

    def forward_encoder(self, x, mask_ratio, generator=None):
        x = self.patch_embed(x) + self.pos_embed[:, 1:, :]
        x, mask, ids_restore = self.random_masking(x, mask_ratio, generator)
        cls = (self.cls_token + self.pos_embed[:, :1, :]).expand(x.shape[0], -1, -1)
        x = torch.cat([cls, x], dim=1)
        for blk in self.blocks:
            x = blk(x)
        return self.norm(x), mask, ids_restore

    def forward_decoder(self, x, ids_restore):
        x = self.decoder_embed(x)
        mask_tokens = self.mask_token.repeat(x.shape[0], ids_restore.shape[1] + 1 - x.shape[1], 1)
        x_ = torch.cat([x[:, 1:, :], mask_tokens], dim=1)
        x_ = torch.gather(x_, 1, ids_restore.unsqueeze(-1).repeat(1, 1, x.shape[2]))  # unshuffle
        x = torch.cat([x[:, :1, :], x_], dim=1) + self.decoder_pos_embed
        for blk in self.decoder_blocks:
            x = blk(x)
        return self.decoder_pred(self.decoder_norm(x))[:, 1:, :]

    def forward_loss(self, imgs, pred, mask):
        """Mean over removed patches of the per-patch MSE."""
        loss = ((pred - self.patchify(imgs)) ** 2).mean(dim=-1)
        return (loss * mask).sum() / mask.sum() if mask.sum() != 0 else (loss * mask).sum()

    def forward(self, imgs, mask_ratio=0.75, generator=None):
        """imgs [N, 1, V] → (loss, pred [N, L, p], mask [N, L], parts {mask, self, cross})."""
        latent, mask, ids_restore = self.forward_encoder(imgs, mask_ratio, generator)
        pred = self.forward_decoder(latent, ids_restore)
        zero = torch.zeros(())
        mask_loss = self.forward_loss(imgs, pred, mask) if self.do_mask_loss else zero
        flat_pred = self.unpatchify(pred).squeeze(1)
        self_loss = (self.self_contrast_loss_weight * info_nce(flat_pred, imgs.squeeze(1), self.temperature)
                     if self.do_self_contrast and len(imgs) > 1 else zero)
        if self.do_cross_contrast:
            latent2, _, ids_restore2 = self.forward_encoder(imgs, mask_ratio, generator)
            pred2 = self.unpatchify(self.forward_decoder(latent2, ids_restore2)).squeeze(1)
            cross_loss = self.cross_contrast_loss_weight * info_nce(flat_pred, pred2, self.temperature)
        else:
            cross_loss = zero
        loss = self.mask_loss_weight * mask_loss + self.contrastive_loss_weight * (self_loss + cross_loss)
        return loss, pred, mask, {'mask': mask_loss, 'self': self_loss, 'cross': cross_loss}


class FmriEncoder(nn.Module):
    """Phase-3 `cond_stage_model.mae` (MinD-Vis `fmri_encoder`, global_pool=False)."""

    def __init__(self, num_voxels, patch_size=16, embed_dim=1024, depth=24, num_heads=16, mlp_ratio=1.0):
        super().__init__()
        self.patch_embed = PatchEmbed1D(num_voxels, patch_size, 1, embed_dim)
        self.num_patches = self.patch_embed.num_patches
        self.embed_dim = embed_dim
        self.cls_token = nn.Parameter(torch.zeros(1, 1, embed_dim))
        self.pos_embed = nn.Parameter(torch.from_numpy(sincos_pos_embed(embed_dim, self.num_patches))[None])
        self.blocks = nn.ModuleList([Block(embed_dim, num_heads, mlp_ratio) for _ in range(depth)])
        self.norm = nn.LayerNorm(embed_dim)
        self.mask_token = nn.Parameter(torch.zeros(1, 1, embed_dim))  # in the checkpoint, unused

    def forward(self, x):  # [B, 1, V] (or [B, V]) → [B, L, D]
        if x.ndim == 2:
            x = x[:, None, :]
        x = self.patch_embed(x) + self.pos_embed[:, 1:, :]
        for blk in self.blocks:
            x = blk(x)
        return self.norm(x)
