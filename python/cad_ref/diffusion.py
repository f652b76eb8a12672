"""Noise schedule, the phase-3 LDM container and the PLMS / DDIM samplers (CompVis `ddpm.py`, `plms.py`, `ddim.py`).

The samplers are transcriptions of CompVis' (no classifier-free guidance, as the authors sample),
returning every step's input latent, raw UNet output and predicted x0 so other implementations can
be checked step by step.
"""
import numpy as np
import torch
import torch.nn as nn

from .cond_stage import CondStageModel
from .unet import UNetModel
from .vq import VQModelInterface

SCHEDULE_BUFFERS = ('betas', 'alphas_cumprod', 'alphas_cumprod_prev', 'sqrt_alphas_cumprod',
                    'sqrt_one_minus_alphas_cumprod', 'log_one_minus_alphas_cumprod', 'sqrt_recip_alphas_cumprod',
                    'sqrt_recipm1_alphas_cumprod', 'posterior_variance', 'posterior_log_variance_clipped',
                    'posterior_mean_coef1', 'posterior_mean_coef2')


def make_schedule(num_timesteps=1000, linear_start=0.0015, linear_end=0.0195):
    """`DDPM.register_schedule` for the 'linear' schedule: float64 maths, then float32 buffers."""
    betas = (torch.linspace(linear_start ** 0.5, linear_end ** 0.5, num_timesteps, dtype=torch.float64) ** 2).numpy()
    alphas = 1. - betas
    ac = np.cumprod(alphas, axis=0)
    ac_prev = np.append(1., ac[:-1])
    post_var = betas * (1. - ac_prev) / (1. - ac)
    arrays = {
        'betas': betas, 'alphas_cumprod': ac, 'alphas_cumprod_prev': ac_prev,
        'sqrt_alphas_cumprod': np.sqrt(ac), 'sqrt_one_minus_alphas_cumprod': np.sqrt(1. - ac),
        'log_one_minus_alphas_cumprod': np.log(1. - ac), 'sqrt_recip_alphas_cumprod': np.sqrt(1. / ac),
        'sqrt_recipm1_alphas_cumprod': np.sqrt(1. / ac - 1), 'posterior_variance': post_var,
        'posterior_log_variance_clipped': np.log(np.maximum(post_var, 1e-20)),
        'posterior_mean_coef1': betas * np.sqrt(ac_prev) / (1. - ac),
        'posterior_mean_coef2': (1. - ac_prev) * np.sqrt(alphas) / (1. - ac),
    }
    return {k: torch.tensor(v, dtype=torch.float32) for k, v in arrays.items()}


class DiffusionWrapper(nn.Module):
    """Holds the UNet as `diffusion_model` so names read `model.diffusion_model.…`; crossattn conditioning."""

    def __init__(self, unet):
        super().__init__()
        self.diffusion_model = unet

    def forward(self, x, t, context):
        return self.diffusion_model(x, t, context=context)


class FmriLDM(nn.Module):
    """Phase-3 `LatentDiffusion` with the fMRI cond stage: its state_dict has the authors' phase-3 names."""

    def __init__(self, cfg):
        """cfg: a ModelConfig-shaped dict (TS field names)."""
        super().__init__()
        e, c, u, v, s = cfg['encoder'], cfg['cond'], cfg['unet'], cfg['vq'], cfg['schedule']
        for name, value in make_schedule(s['numTimesteps'], s['linearStart'], s['linearEnd']).items():
            self.register_buffer(name, value)
        self.num_timesteps = s['numTimesteps']
        self.model = DiffusionWrapper(UNetModel(
            u['imageSize'], u['inChannels'], u['modelChannels'], u['outChannels'], u['numResBlocks'],
            u['attentionResolutions'], u['channelMult'], u['numHeads'], u['transformerDepth'], u['contextDim'],
            use_time_cond=u['timeCond'], cond_tokens=c['outTokens']))
        self.first_stage_model = VQModelInterface(
            v['embedDim'], v['nEmbed'], v['zChannels'], v['resolution'], v['inChannels'], v['outCh'], v['ch'],
            v['chMult'], v['numResBlocks'], v['attnResolutions'])
        self.cond_stage_model = CondStageModel(
            e['numVoxels'], c['condDim'], c['outTokens'], e['patchSize'], e['embedDim'], e['depth'], e['numHeads'],
            e['mlpRatio'])

    def get_learned_conditioning(self, fmri):
        return self.cond_stage_model(fmri)

    def apply_model(self, x, t, c):
        return self.model(x, t, c)

    def decode_first_stage(self, z):
        return self.first_stage_model.decode(z)  # scale_factor 1.0


def ddim_timesteps(num_steps, num_timesteps=1000):
    """'uniform' discretisation: range(0, T, T // S) + 1 (S=12 gives 13 steps), ascending."""
    c = num_timesteps // num_steps
    return np.asarray(list(range(0, num_timesteps, c))) + 1


def ddim_parameters(alphas_cumprod, timesteps, eta):
    """(a_t, a_prev, sigma, sqrt(1 − a_t)) per used step, ascending, as CompVis make_schedule builds them."""
    alphas = alphas_cumprod[timesteps]  # float32
    alphas_prev = np.asarray([alphas_cumprod[0].item()] + alphas_cumprod[timesteps[:-1]].tolist())  # float64
    # CompVis mixes a float32 tensor with float64 numpy here: 1 − a_t is rounded to float32 first.
    a64 = alphas.double().numpy()
    one_minus_a = (1. - alphas).double().numpy()
    sigmas = eta * np.sqrt((1 - alphas_prev) / one_minus_a * (1 - a64 / alphas_prev))
    return alphas, torch.tensor(alphas_prev, dtype=torch.float32), torch.tensor(sigmas, dtype=torch.float32), \
        torch.sqrt(1. - alphas)


def _step(x, e_t, index, params, noise):
    """x_{t-1} and predicted x0 from ε (`get_x_prev_and_pred_x0` / `p_sample_ddim`), all float32."""
    alphas, alphas_prev, sigmas, sqrt_one_minus = params
    b = x.shape[0]
    a_t = torch.full((b, 1, 1, 1), alphas[index].item())
    a_prev = torch.full((b, 1, 1, 1), alphas_prev[index].item())
    sigma_t = torch.full((b, 1, 1, 1), sigmas[index].item())
    som = torch.full((b, 1, 1, 1), sqrt_one_minus[index].item())
    pred_x0 = (x - som * e_t) / a_t.sqrt()
    dir_xt = (1. - a_prev - sigma_t ** 2).sqrt() * e_t
    x_prev = a_prev.sqrt() * pred_x0 + dir_xt + sigma_t * noise
    return x_prev, pred_x0


@torch.no_grad()
def plms_sample(eps_fn, x_T, num_steps, alphas_cumprod):
    """PLMS with eta 0. eps_fn(x, t[B] long) → ε. Returns dict of per-step records (descending t)."""
    ts = ddim_timesteps(num_steps, len(alphas_cumprod))
    params = ddim_parameters(alphas_cumprod, ts, 0.)
    time_range = np.flip(ts)
    total = len(ts)
    b = x_T.shape[0]
    x = x_T
    old_eps, rec = [], {'timesteps': time_range.copy(), 'x_t': [], 'eps': [], 'x0': []}
    zero = torch.zeros_like(x_T)
    for i, step in enumerate(time_range):
        index = total - i - 1
        t = torch.full((b,), int(step), dtype=torch.long)
        t_next = torch.full((b,), int(time_range[min(i + 1, total - 1)]), dtype=torch.long)
        rec['x_t'].append(x)
        e_t = eps_fn(x, t)
        if len(old_eps) == 0:  # pseudo improved Euler: one extra UNet call at the next timestep
            x_prev, _ = _step(x, e_t, index, params, zero)
            e_prime = (e_t + eps_fn(x_prev, t_next)) / 2
        elif len(old_eps) == 1:
            e_prime = (3 * e_t - old_eps[-1]) / 2
        elif len(old_eps) == 2:
            e_prime = (23 * e_t - 16 * old_eps[-1] + 5 * old_eps[-2]) / 12
        else:
            e_prime = (55 * e_t - 59 * old_eps[-1] + 37 * old_eps[-2] - 9 * old_eps[-3]) / 24
        x, pred_x0 = _step(x, e_prime, index, params, zero)
        rec['eps'].append(e_t)
        rec['x0'].append(pred_x0)
        old_eps.append(e_t)
        if len(old_eps) >= 4:
            old_eps.pop(0)
    rec['final'] = x
    return rec


@torch.no_grad()
def ddim_sample(eps_fn, x_T, num_steps, eta, alphas_cumprod, generator):
    """DDIM with per-step unit noise drawn from `generator` (recorded as 'noise'), scaled by sigma_i."""
    ts = ddim_timesteps(num_steps, len(alphas_cumprod))
    params = ddim_parameters(alphas_cumprod, ts, eta)
    time_range = np.flip(ts)
    total = len(ts)
    b = x_T.shape[0]
    x = x_T
    rec = {'timesteps': time_range.copy(), 'x_t': [], 'eps': [], 'x0': [], 'noise': []}
    for i, step in enumerate(time_range):
        index = total - i - 1
        t = torch.full((b,), int(step), dtype=torch.long)
        rec['x_t'].append(x)
        e_t = eps_fn(x, t)
        noise = torch.randn(x.shape, generator=generator)
        x, pred_x0 = _step(x, e_t, index, params, noise)
        rec['eps'].append(e_t)
        rec['x0'].append(pred_x0)
        rec['noise'].append(noise)
    rec['final'] = x
    return rec
