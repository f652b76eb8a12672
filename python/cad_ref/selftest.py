"""Cheap internal-consistency checks of the reference against the spec and independent oracles.

    PYTHONPATH=python /usr/bin/python3 -m cad_ref.selftest        # exit status 0 when all pass
"""
import io
import json
import math
import os
import struct
import sys
import tempfile
import zipfile

import numpy as np
import torch
import torch.nn.functional as F

from . import config as cfg_classes
from .checkpoints import save_safetensors, with_shared_storage
from .diffusion import (SCHEDULE_BUFFERS, FmriLDM, ddim_parameters, ddim_sample, ddim_timesteps, step_spacing, uniform_timesteps, guided_eps, img2img_start,
                        make_schedule, plms_sample)
from .fmri_mae import Attention, MAEforFMRIContrast, info_nce, sincos_pos_embed, wrap_pad
from .golden import PRESETS, randomize_
from .unet import GEGLU, CrossAttention, timestep_embedding
from .vq import AttnBlock

CHECKS = []


def check(fn):
    CHECKS.append(fn)
    return fn


def close(a, b, rtol, what):
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    err = np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-30)
    assert err <= rtol, f'{what}: relative error {err:.3g} > {rtol:g}'


@check
def step_counts():
    assert len(ddim_timesteps(12)) == 13, 'S=12 must give 13 steps'
    assert list(ddim_timesteps(10)) == list(range(1, 1000, 100)), 'S=10 timesteps'
    ts = ddim_timesteps(250)
    assert len(ts) == 250 and ts[0] == 1 and ts[-1] == 997 and set(np.diff(ts)) == {4}, 'S=250 timesteps'


@check
def trailing_spacing_where_uniform_reaches_T():
    """Every S in 1..1000 gives a valid list; the uniform one wherever it stays below T; the trailing one equals
    diffusers' float formula np.round(np.arange(T, 0, -T/S)) - 1 except at its float defects."""
    T = 1000
    for S in range(1, T + 1):
        ts = ddim_timesteps(S, T)
        assert ts[0] >= 0 and ts[-1] <= T - 1 and np.all(np.diff(ts) > 0), f'S={S}: {ts[:3]}..{ts[-3:]}'
        uni = uniform_timesteps(S, T)
        if uni[-1] < T:
            assert step_spacing(S, T) == 'uniform' and list(ts) == list(uni), f'S={S} must keep the uniform list'
            continue
        assert step_spacing(S, T) == 'trailing' and len(ts) == S, f'S={S}'
        ref = (np.round(np.arange(T, 0, -T / S)).astype(np.int64) - 1)[::-1]
        ref = ref[ref >= 0]  # diffusers' float arange adds t = -1 for some S
        exact_half = [(2 * T * (S - i)) % (2 * S) == S for i in range(S)][::-1]
        mism = [i for i in range(S) if ts[i] != ref[i] and not exact_half[i]]
        assert len(ref) == S and not mism, f'S={S}: differs from diffusers trailing at {mism[:5]}'
    assert list(ddim_timesteps(3)) == [332, 666, 999] and list(ddim_timesteps(1000)) == list(range(1000))
    assert list(ddim_timesteps(1)) == [1] and list(ddim_timesteps(2)) == [1, 501]


@check
def schedule_values():
    ac = make_schedule()['alphas_cumprod']
    assert ac.dtype == torch.float32
    close(ac[0], 0.9985, 1e-6, 'abar_0')
    close(ac[250], 0.50842, 2e-5, 'abar_250')
    close(ac[500], 0.11492, 5e-5, 'abar_500')
    close(ac[999], 1.4230e-4, 1e-4, 'abar_999')
    betas = make_schedule()['betas'].double()
    close(betas[[0, -1]], [0.0015, 0.0195], 1e-6, 'beta ends')


@check
def sincos_layout():
    dim, n = 8, 5
    t = sincos_pos_embed(dim, n)
    assert t.shape == (n + 1, dim) and not t[0].any(), 'cls row must be zeros'
    omega = 1 / 10000 ** (np.arange(4) / 4)
    for p in range(n):
        close(t[p + 1], np.concatenate([np.sin(p * omega), np.cos(p * omega)]), 1e-6, f'row {p + 1}')


@check
def wrap_padding():
    x = np.arange(2 * 100, dtype=np.float32).reshape(2, 100)
    y = wrap_pad(x)
    assert y.shape == (2, 112) and np.array_equal(y[:, 100:], x[:, :12]), 'pad 100 → 112 by wrapping'
    assert wrap_pad(np.zeros((1, 112))).shape == (1, 128), 'aligned length gets a full extra patch'


@check
def timestep_embedding_order():
    e = timestep_embedding(torch.tensor([0., 3.]), 8)
    close(e[0], [1, 1, 1, 1, 0, 0, 0, 0], 0, 't=0 is [cos…=1, sin…=0]')
    f = np.exp(-math.log(10000) * np.arange(4) / 4)
    close(e[1], np.concatenate([np.cos(3 * f), np.sin(3 * f)]), 1e-6, 't=3')


@check
def vit_attention_vs_torch_mha():
    torch.manual_seed(1)
    att = Attention(16, 2)
    mha = torch.nn.MultiheadAttention(16, 2, batch_first=True)
    with torch.no_grad():
        mha.in_proj_weight.copy_(att.qkv.weight)
        mha.in_proj_bias.copy_(att.qkv.bias)
        mha.out_proj.weight.copy_(att.proj.weight)
        mha.out_proj.bias.copy_(att.proj.bias)
    x = torch.randn(3, 5, 16)
    close(att(x).detach(), mha(x, x, x, need_weights=False)[0].detach(), 1e-5, 'timm attention vs nn.MultiheadAttention')


@check
def cross_attention_vs_torch_mha():
    """Legacy head split 'b n (h d)' with separate q/k/v (no bias) and a biased out-proj, context width ≠ C."""
    torch.manual_seed(7)
    att = CrossAttention(16, context_dim=6, heads=2, dim_head=8)
    mha = torch.nn.MultiheadAttention(16, 2, kdim=6, vdim=6, bias=False, batch_first=True)
    with torch.no_grad():
        mha.q_proj_weight.copy_(att.to_q.weight)
        mha.k_proj_weight.copy_(att.to_k.weight)
        mha.v_proj_weight.copy_(att.to_v.weight)
        mha.out_proj.weight.copy_(att.to_out[0].weight)
    x, c = torch.randn(2, 5, 16), torch.randn(2, 7, 6)
    expected = mha(x, c, c, need_weights=False)[0] + att.to_out[0].bias
    close(att(x, c).detach(), expected.detach(), 1e-5, 'CrossAttention vs nn.MultiheadAttention')


@check
def vq_attn_block_vs_torch_mha():
    torch.manual_seed(8)
    blk = AttnBlock(32)
    mha = torch.nn.MultiheadAttention(32, 1, batch_first=True)
    with torch.no_grad():
        mha.in_proj_weight.copy_(torch.cat([m.weight[:, :, 0, 0] for m in (blk.q, blk.k, blk.v)]))
        mha.in_proj_bias.copy_(torch.cat([m.bias for m in (blk.q, blk.k, blk.v)]))
        mha.out_proj.weight.copy_(blk.proj_out.weight[:, :, 0, 0])
        mha.out_proj.bias.copy_(blk.proj_out.bias)
    x = torch.randn(2, 32, 3, 4)
    tokens = blk.norm(x).flatten(2).transpose(1, 2)
    expected = x + mha(tokens, tokens, tokens, need_weights=False)[0].transpose(1, 2).reshape(x.shape)
    close(blk(x).detach(), expected.detach(), 1e-5, 'VQ AttnBlock vs nn.MultiheadAttention')


@check
def geglu_value_then_gate():
    torch.manual_seed(2)
    g = GEGLU(4, 3)
    x = torch.randn(2, 4)
    h = g.proj(x)
    close(g(x).detach(), (h[:, :3] * F.gelu(h[:, 3:])).detach(), 1e-6, 'GEGLU halves')


def _oracle_run(sampler):
    """A denoiser that knows x0 (ε consistent with x_t): every predicted x0 must equal x0."""
    ac = make_schedule()['alphas_cumprod']
    gen = torch.Generator().manual_seed(3)
    x0 = torch.randn(2, 3, 4, 4, generator=gen)
    calls = []

    def eps_fn(x, t):
        a = ac[t].view(-1, 1, 1, 1)
        calls.append(int(t[0]))
        return (x - a.sqrt() * x0) / (1 - a).sqrt()

    x_T = torch.randn(2, 3, 4, 4, generator=gen)
    return sampler(eps_fn, x_T, ac, gen), x0, calls, ac


@check
def plms_with_oracle_denoiser():
    rec, x0, calls, ac = _oracle_run(lambda f, x, ac, g: plms_sample(f, x, 10, ac))
    assert calls == [901, 801] + list(range(801, 0, -100)), f'PLMS calls {calls}: one extra at the first step'
    for i, p in enumerate(rec['x0']):
        close(p, x0, 2e-4, f'PLMS x0 at step {i}')
    close(rec['x_t'][0], rec['x_t'][0], 0, 'x_t[0] is x_T')


@check
def ddim_with_oracle_denoiser():
    rec, x0, calls, ac = _oracle_run(lambda f, x, ac, g: ddim_sample(f, x, 12, 0.0, ac, g))
    assert len(calls) == 13 and calls[0] == 997 and calls[-1] == 1, f'DDIM calls {calls}'
    for i, p in enumerate(rec['x0']):
        close(p, x0, 2e-4, f'DDIM x0 at step {i}')
    eps = (rec['x_t'][0] - ac[997].sqrt() * x0) / (1 - ac[997]).sqrt()
    close(rec['final'], ac[0].sqrt() * x0 + (1 - ac[0]).sqrt() * eps, 1e-4, 'last step uses abar_0, not 1')


@check
def img2img_starts_at_nearest_t():
    """strength 0.5 with S = 10 (t = 901 … 1): nearest to 500 is 501; the start latent is the noised init."""
    ac = make_schedule()['alphas_cumprod']
    assert img2img_start(np.flip(ddim_timesteps(10)), 0.5) == 4
    assert img2img_start(np.flip(ddim_timesteps(10)), 0.551) == 4, 'tie 601/501 at 551 goes to the later step'
    assert img2img_start(np.flip(ddim_timesteps(10)), 1.0) == 0
    rec, x0, calls, _ = _oracle_run(lambda f, x, ac, g: plms_sample(f, x, 10, ac, x0_init=torch.ones_like(x), strength=0.5))
    assert calls == [501, 401] + list(range(401, 0, -100)), f'PLMS img2img calls {calls}: fresh history at t = 501'
    assert list(rec['timesteps']) == [501, 401, 301, 201, 101, 1] and rec['start_index'] == 4
    rec, x0, calls, _ = _oracle_run(lambda f, x, ac, g: ddim_sample(f, x, 12, 0.5, ac, g, x0_init=torch.ones_like(x),
                                                                     strength=0.5))
    assert calls == [499, 416, 333, 250, 167, 84, 1] and len(rec['noise']) == 7, f'DDIM img2img calls {calls}'
    gen = torch.Generator().manual_seed(3)
    torch.randn(2, 3, 4, 4, generator=gen)
    x_T = torch.randn(2, 3, 4, 4, generator=gen)
    close(rec['x_t'][0], ac[499].sqrt() * 1. + (1 - ac[499]).sqrt() * x_T, 1e-6, 'x_start')


@check
def guidance_one_batched_call():
    calls = []

    def apply(x, t, c):
        calls.append((x.shape[0], c[:, 0, 0].tolist()))
        return x * c[:, :1, :1].reshape(-1, 1, 1, 1)

    x = torch.randn(2, 3, 4, 4)
    c = torch.full((2, 5, 3), 2.)
    c_null = torch.full((5, 3), -1.)
    e = guided_eps(apply, c, c_null, 3.)(x, torch.tensor([7, 7]))
    assert calls == [(4, [-1., -1., 2., 2.])], f'guidance calls {calls}: one call, uncond first'
    close(e, -x + 3. * (2. * x + x), 1e-6, 'eps_u + g (eps_c - eps_u)')
    calls.clear()
    close(guided_eps(apply, c, c_null, 1.)(x, torch.tensor([7, 7])), 2. * x, 0, 'scale 1: the conditional eps')
    assert calls == [(2, [2., 2.])], 'scale 1 is one plain conditional call'


@check
def ddim_sigmas():
    ac = make_schedule()['alphas_cumprod']
    ts = ddim_timesteps(12)
    a, a_prev, sig, _ = ddim_parameters(ac, ts, 0.5)
    assert a_prev[0] == ac[0] and torch.equal(a_prev[1:], ac[ts[:-1]]), 'alphas_prev'
    a64, p64 = a.double().numpy(), a_prev.double().numpy()
    close(sig, 0.5 * np.sqrt((1 - p64) / (1 - a64) * (1 - a64 / p64)), 1e-6, 'sigma_t')


@check
def info_nce_vs_manual():
    torch.manual_seed(4)
    q, k = torch.randn(4, 10), torch.randn(4, 10)
    s = (F.normalize(q, dim=1) @ F.normalize(k, dim=1).T / 0.1).double()
    manual = -(torch.diag(s) - torch.logsumexp(s, dim=1)).mean()
    close(info_nce(q, k, 0.1).detach(), manual, 1e-5, 'InfoNCE')


@check
def mae_masking_and_loss():
    torch.manual_seed(5)
    m = MAEforFMRIContrast(64, 16, 32, 1, 2, 16, 1, 2, 1.0, do_mask_loss=True)
    x = torch.randn(3, 1, 64)
    gen = torch.Generator().manual_seed(0)
    loss, pred, mask, parts = m(x, 0.75, generator=gen)
    assert pred.shape == (3, 4, 16) and mask.sum(1).tolist() == [3., 3., 3.], 'keep int(4·0.25)=1 of 4 patches'
    per_patch = ((pred - m.patchify(x)) ** 2).mean(-1)
    close(parts['mask'].detach(), (per_patch * mask).sum().detach() / 9, 1e-6, 'MAE loss on removed patches')
    close(loss.detach(), (parts['mask'] + 0.5 * (parts['self'] + parts['cross'])).detach(), 1e-6, 'total loss')
    loss.backward()


@check
def quantize_is_nearest_code():
    cfg = PRESETS['tiny']
    ldm = FmriLDM(cfg)
    randomize_(ldm, torch.Generator().manual_seed(6))
    vq = ldm.first_stage_model
    z = torch.randn(2, 3, 8, 8) * 1.5
    with torch.no_grad():
        q = vq.quantize(z)
        brute = torch.cdist(z.permute(0, 2, 3, 1).reshape(-1, 3).double(), vq.quantize.embedding.weight.double())
        codes = vq.quantize.embedding.weight[brute.argmin(1)]
    assert torch.equal(q.permute(0, 2, 3, 1).reshape(-1, 3), codes), 'quantize = nearest codebook row'
    names = set(ldm.state_dict())
    for n in ('model.diffusion_model.time_embed_condtion.0.weight', 'model.diffusion_model.input_blocks.1.1.transformer_blocks.0.attn2.to_k.weight',
              'model.diffusion_model.output_blocks.1.2.conv.weight', 'first_stage_model.decoder.up.1.upsample.conv.weight',
              'first_stage_model.encoder.down.0.downsample.conv.weight', 'cond_stage_model.channel_mapper.1.weight',
              *SCHEDULE_BUFFERS):
        assert n in names, f'missing {n}'
    assert len([n for n in names if '.' not in n]) == len(SCHEDULE_BUFFERS), 'only the 12 schedule buffers at top level'


@check
def pickled_config_and_storage_quirks():
    state = {'a.weight': torch.randn(3, 4), 'b.bias': torch.randn(5), 'c.weight': torch.randn(2, 2)}
    quirky = with_shared_storage(state, ['a.weight', 'b.bias', 'c.weight'])
    assert not quirky['a.weight'].is_contiguous() and quirky['c.weight'].storage_offset() == 12 + 5
    buf = io.BytesIO()
    torch.save({'model_state_dict': quirky, 'config': cfg_classes.Config_Generative_Model()}, buf)
    buf.seek(0)
    with zipfile.ZipFile(buf) as z:
        pkl = z.read([n for n in z.namelist() if n.endswith('data.pkl')][0])
    assert b'config\nConfig_Generative_Model' in pkl, 'config class must pickle as config.Config_Generative_Model'
    buf.seek(0)
    back = torch.load(buf)['model_state_dict']
    for k in state:
        assert torch.equal(back[k], state[k]), f'{k} changed through the quirks'


@check
def safetensors_layout():
    state = {'x': torch.arange(6, dtype=torch.float32).reshape(2, 3), 'y': torch.tensor([1.5], dtype=torch.float16)}
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, 't.safetensors')
        save_safetensors(state, path, metadata={'format': 'pt'})
        raw = open(path, 'rb').read()
    n = struct.unpack('<Q', raw[:8])[0]
    assert n % 8 == 0, 'header padded to 8 bytes'
    header = json.loads(raw[8:8 + n])
    data = raw[8 + n:]
    b0, b1 = header['x']['data_offsets']
    assert header['x']['dtype'] == 'F32' and header['x']['shape'] == [2, 3]
    assert np.array_equal(np.frombuffer(data[b0:b1], '<f4'), np.arange(6)), 'x data'
    c0, c1 = header['y']['data_offsets']
    assert np.frombuffer(data[c0:c1], '<f2')[0] == 1.5 and c1 == len(data), 'y data'


@check
def lowlevel_ridge_vs_sklearn_and_pixels():
    from sklearn.linear_model import Ridge
    from .lowlevel import COEF_NORM, EXTRA_NAMES, lowlevel_latent, lowlevel_pixels
    from .train.lowlevel import fit_lowlevel
    rng = np.random.RandomState(11)
    q, _ = np.linalg.qr(rng.randn(64, 6))
    mean = rng.rand(64)
    for v, n in ((20, 60), (90, 40)):  # primal and dual closed forms
        x = rng.randn(n, v)
        imgs = rng.randint(0, 256, (n, 8, 8, 1)).astype(np.uint8)
        ex = fit_lowlevel(x, imgs, mean, q.T, alpha=5.0)
        ref = Ridge(alpha=5.0).fit(x, (imgs.reshape(n, -1) / 255. - mean) @ q)
        close(ex[EXTRA_NAMES[0]].numpy(), ref.coef_.T, 1e-5, f'ridge weight (V={v}, N={n})')
        close(ex[EXTRA_NAMES[1]].numpy(), ref.intercept_, 1e-5, f'ridge bias (V={v}, N={n})')
    cfg = PRESETS['tiny']
    ldm = FmriLDM(cfg)
    randomize_(ldm, torch.Generator().manual_seed(7))
    rr = cfg['vq']['resolution'] ** 2
    ex = {EXTRA_NAMES[0]: torch.randn(5, 4), EXTRA_NAMES[1]: torch.randn(4), EXTRA_NAMES[2]: torch.randn(4, rr) * 0.3,
          EXTRA_NAMES[3]: torch.full((rr,), 0.5)}
    x = torch.randn(3, 5)
    pix, z0 = lowlevel_latent(ex, ldm.first_stage_model, x)
    manual = np.clip((x.numpy() @ ex[EXTRA_NAMES[0]].numpy() + ex[EXTRA_NAMES[1]].numpy()) @ ex[EXTRA_NAMES[2]].numpy() + 0.5, 0, 1)
    close(pix, manual, 1e-5, 'low-level pixels')
    p = x.numpy() @ ex[EXTRA_NAMES[0]].numpy() + ex[EXTRA_NAMES[1]].numpy()
    p = p * (1.7 / np.linalg.norm(p, axis=1, keepdims=True))
    close(lowlevel_pixels({**ex, COEF_NORM: torch.tensor([1.7])}, x), np.clip(p @ ex[EXTRA_NAMES[2]].numpy() + 0.5, 0, 1),
          1e-5, 'low-level pixels, coefficient rows rescaled to coef_norm')
    fit = fit_lowlevel(x.numpy(), np.zeros((3, 8, 8, 1), np.uint8) + np.arange(3)[:, None, None, None] * 60, mean, q.T,
                       alpha=5.0, norm_factor=1.5)
    y = (np.arange(3)[:, None] * 60 / 255. + np.zeros((3, 64)) - mean) @ q
    close(fit[COEF_NORM].numpy(), [1.5 * np.median(np.linalg.norm(y, axis=1))], 1e-5, 'coef_norm = factor × median norm')
    img = torch.from_numpy(np.repeat(manual.reshape(3, 1, 32, 32), 3, axis=1) * 2 - 1).float()
    with torch.no_grad():
        close(z0, ldm.first_stage_model.quant_conv(ldm.first_stage_model.encoder(img)), 1e-5, 'z0 = quant_conv(encoder(img)), no quantisation')


def main():
    failed = 0
    for fn in CHECKS:
        try:
            fn()
            print(f'ok   {fn.__name__}')
        except Exception as e:  # report every failing check, not just the first
            failed += 1
            print(f'FAIL {fn.__name__}: {type(e).__name__}: {e}')
    print(f'{len(CHECKS) - failed}/{len(CHECKS)} checks passed')
    sys.exit(1 if failed else 0)


if __name__ == '__main__':
    torch.set_num_threads(1)
    main()
