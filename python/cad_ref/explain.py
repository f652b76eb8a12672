"""Reference for the studio's explanation views (issue 14): cross-attention maps captured with forward hooks,
and the token → patch → voxel attribution through the conditioning mappers. The networks are not changed:
the hooks read each attn2's to_q / to_k outputs and recompute the softmax the module computes.

    PYTHONPATH=python /usr/bin/python3 -m cad_ref.explain --golden GOLDEN_DIR --out DIR

reads a golden folder (cad_ref.golden: model_config.json, tensors/, unet_x, unet_t, cond, fmri, fmri_raw,
encoder_out, ddim_x_t, ddim_timesteps) and writes:
    attn_unet.npy       [B, h, w, 77]      maps of unet(unet_x, unet_t, cond)
    attn_ddim.npy       [S, B, h, w, 77]   maps of every DDIM golden step (x_t[i], t_i, cond)
    token_patch.npy     [B, 77, L]         patch shares of each context token
    token_bias.npy      [B, 77]            share of the mappers' constant part
    token_voxel.npy     [B, 77, V_raw]     voxel shares
    unet_out_hooked.npy [B, C, h, w]       the UNet output with the hooks attached (must equal unet_out)
Maps: per attn2, softmax(q kᵀ · d^-0.5) averaged over heads, nearest-upsampled to the latent size
(F.interpolate), averaged over layers (DAAM, Tang et al. 2023, with a mean).
"""
import argparse
import json
import os

import numpy as np
import torch
import torch.nn.functional as F

from .diffusion import FmriLDM


class CrossAttentionHooks:
    """Forward hooks on every `attn2.to_q` / `attn2.to_k` of a UNet; `maps()` gives the averaged maps of the last call."""

    def __init__(self, unet):
        self.q, self.k, self.modules, self.handles = {}, {}, [], []
        for name, m in unet.named_modules():
            if name.endswith('attn2'):
                self.modules.append((name, m))
                self.handles.append(m.to_q.register_forward_hook(self._save(self.q, name)))
                self.handles.append(m.to_k.register_forward_hook(self._save(self.k, name)))

    @staticmethod
    def _save(store, name):
        def hook(_module, _inputs, output):
            store[name] = output.detach()
        return hook

    def maps(self, side):
        """[B, side, side, tokens] averaged over heads and layers at the latent size `side`."""
        total = None
        for name, m in self.modules:
            q, k = self.q[name], self.k[name]
            b, n, _ = q.shape
            h = m.heads
            qh = q.reshape(b, n, h, -1).permute(0, 2, 1, 3)
            kh = k.reshape(b, k.shape[1], h, -1).permute(0, 2, 1, 3)
            attn = (torch.einsum('bhid,bhjd->bhij', qh, kh) * m.scale).softmax(dim=-1).mean(dim=1)   # [B, N, M]
            s = int(round(n ** 0.5))
            assert s * s == n, f'{name}: {n} positions are not square'
            grid = attn.permute(0, 2, 1).reshape(b, -1, s, s)                                       # [B, M, s, s]
            up = F.interpolate(grid, size=(side, side), mode='nearest')
            total = up if total is None else total + up
        return (total / len(self.modules)).permute(0, 2, 3, 1)

    def remove(self):
        for hd in self.handles:
            hd.remove()


def token_attribution(sd, fmri, encoder_out, raw_voxels, patch_size):
    """Norm-based shares (Kobayashi et al. 2020) through the linear mappers, in float64. See src/explain/attribution.ts."""
    d = lambda k: torch.as_tensor(sd[k]).double()
    w1, b1 = d('cond_stage_model.channel_mapper.0.weight')[:, :, 0], d('cond_stage_model.channel_mapper.0.bias')
    w2, b2 = d('cond_stage_model.channel_mapper.1.weight')[:, :, 0], d('cond_stage_model.channel_mapper.1.bias')
    wd, bd = d('cond_stage_model.dim_mapper.weight'), d('cond_stage_model.dim_mapper.bias')
    wp = d('cond_stage_model.mae.patch_embed.proj.weight')[:, 0, :]       # [D, p]
    M = w2 @ w1
    beta = w2 @ b1 + b2
    e = torch.as_tensor(encoder_out).double()
    enc = torch.linalg.norm(e @ wd.T, dim=-1)                             # [B, L]
    bias = torch.linalg.norm(beta[:, None] * wd.sum(1)[None, :] + bd[None, :], dim=-1)   # [T]
    contrib = M.abs()[None] * enc[:, None, :]                             # [B, T, L]
    total = contrib.sum(-1) + bias[None]
    token_patch = contrib / total[..., None]
    token_bias = bias[None] / total
    x = torch.as_tensor(fmri).double()                                    # [B, V]
    B, V = x.shape
    L = V // patch_size
    part = x.abs().reshape(B, L, patch_size) * torch.linalg.norm(wp, dim=0)[None, None, :]
    s = part.sum(-1, keepdim=True)
    within = torch.where(s > 0, part / torch.where(s > 0, s, torch.ones_like(s)), torch.full_like(part, 1.0 / patch_size))
    tv_padded = (token_patch[..., None] * within[:, None]).reshape(B, token_patch.shape[1], V)
    token_voxel = torch.zeros(B, token_patch.shape[1], raw_voxels, dtype=torch.float64)
    token_voxel.index_add_(2, torch.arange(V) % raw_voxels, tv_padded)
    return token_patch.numpy(), token_bias.numpy(), token_voxel.numpy()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--golden', required=True)
    ap.add_argument('--out', required=True)
    a = ap.parse_args()
    g = lambda n: np.load(os.path.join(a.golden, n + '.npy'))
    with open(os.path.join(a.golden, 'model_config.json')) as f:
        cfg = json.load(f)
    with open(os.path.join(a.golden, 'tensors.json')) as f:
        names = json.load(f)
    sd = {n: torch.from_numpy(np.load(os.path.join(a.golden, 'tensors', n + '.npy'))) for n in names}
    ldm = FmriLDM(cfg).eval()
    ldm.load_state_dict(sd)
    unet = ldm.model.diffusion_model
    os.makedirs(a.out, exist_ok=True)
    save = lambda n, v: np.save(os.path.join(a.out, n + '.npy'), np.asarray(v, dtype=np.float32))
    side = cfg['unet']['imageSize']
    cond = torch.from_numpy(g('cond'))
    hooks = CrossAttentionHooks(unet)
    with torch.no_grad():
        save('unet_out_hooked', unet(torch.from_numpy(g('unet_x')), torch.from_numpy(g('unet_t')), cond))
        save('attn_unet', hooks.maps(side))
        xs, ts = g('ddim_x_t'), g('ddim_timesteps')
        per_step = []
        for x, t in zip(xs, ts):
            unet(torch.from_numpy(x), torch.full((x.shape[0],), float(t)), cond)
            per_step.append(hooks.maps(side).numpy())
        save('attn_ddim', np.stack(per_step))
    hooks.remove()
    tp, tb, tv = token_attribution(sd, g('fmri'), g('encoder_out'), g('fmri_raw').shape[1], cfg['encoder']['patchSize'])
    save('token_patch', tp)
    save('token_bias', tb)
    save('token_voxel', tv)


if __name__ == '__main__':
    main()
