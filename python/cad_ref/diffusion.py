"""Noise schedule, the phase-3 LDM container and the PLMS / DDIM samplers (CompVis `ddpm.py`, `plms.py`, `ddim.py`).

The samplers are transcriptions of CompVis', returning every step's input latent, raw UNet output and
predicted x0 so other implementations can be checked step by step. Two additions the authors' sampling
does not use (issue 16):
- img2img (`x0_init`, `strength`): start part-way down the step list from a noised init latent, as
  diffusers' `StableDiffusionImg2ImgPipeline` (`get_timesteps` + `scheduler.add_noise`) and CompVis'
  `scripts/img2img.py` (`stochastic_encode`, then `decode` from `t_enc`) do;
- classifier-free guidance (`guided_eps`): CompVis `PLMSSampler.p_sample_plms` / `DDIMSampler.p_sample_ddim`
  with `unconditional_guidance_scale` (one batched call on [x, x] with context [c_uncond, c]).
And one the authors' list cannot express: step counts whose uniform list would reach t = T use diffusers'
"trailing" spacing (`ddim_timesteps`, `step_spacing`).
"""
import math
from fractions import Fraction

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


def uniform_timesteps(num_steps, num_timesteps=1000):
    """The authors' 'uniform' discretisation (ldm make_ddim_timesteps): range(0, T, T // S) + 1, ascending
    (S=12 gives 13 steps). Its last entry is T, past the schedule, for some S (T=1000: 3, 9, 27, …, 501–1000)."""
    c = num_timesteps // num_steps
    return np.asarray(list(range(0, num_timesteps, c))) + 1


def trailing_timesteps(num_steps, num_timesteps=1000):
    """diffusers' "trailing" spacing, ascending: exactly S timesteps round(T·(S−i)/S) − 1 for i = 0..S−1,
    halves rounded up, in exact rational arithmetic (diffusers' np.round(np.arange(T, 0, −T/S)) − 1 is the
    same rule in floating point, which rounds some exact halves down and for some S adds an entry t = −1)."""
    S, T = num_steps, num_timesteps
    desc = [math.floor(Fraction(T * (S - i), S) + Fraction(1, 2)) - 1 for i in range(S)]
    return np.asarray(desc[::-1])


def step_spacing(num_steps, num_timesteps=1000):
    """'uniform' where the authors' list stays below T, else 'trailing'."""
    if not (isinstance(num_steps, (int, np.integer)) and 1 <= num_steps <= num_timesteps):
        raise ValueError(f'num_steps must be an integer in 1..{num_timesteps} (got {num_steps})')
    return 'uniform' if uniform_timesteps(num_steps, num_timesteps)[-1] < num_timesteps else 'trailing'


def ddim_timesteps(num_steps, num_timesteps=1000):
    """The ascending timesteps of S steps: the authors' uniform list where valid, else the trailing one."""
    if step_spacing(num_steps, num_timesteps) == 'uniform':
        return uniform_timesteps(num_steps, num_timesteps)
    return trailing_timesteps(num_steps, num_timesteps)


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


def img2img_start(time_range, strength, num_timesteps=1000):
    """Index into the descending step list where an img2img run starts: the step whose t is nearest to
    strength·T, ties to the later (smaller) t. strength ∈ (0, 1].

    diffusers' img2img keeps the last int(S·strength) steps of its list and CompVis' img2img.py starts at
    DDIM index int(strength·S); with the authors' list (range(0, T, T // S) + 1, S = 12 → 13 entries) those
    counts are off by one against t, so the agreed rule here is stated in t: nearest to strength·T.
    """
    if not (0 < strength <= 1):
        raise ValueError(f'strength must be in (0, 1] (got {strength})')
    target = strength * num_timesteps
    dist = np.abs(np.asarray(time_range, dtype=np.float64) - target)
    return int(np.flatnonzero(dist == dist.min())[-1])


def noised_init(x0_init, x_T, alphas_cumprod, t):
    """x_t = √ᾱ_t·x0 + √(1−ᾱ_t)·noise in float32 (diffusers `DDPMScheduler.add_noise`; CompVis
    `DDIMSampler.stochastic_encode` with the DDPM ᾱ of that t)."""
    a = alphas_cumprod[int(t)]
    return a.sqrt() * x0_init + (1. - a).sqrt() * x_T


def _start(x_T, x0_init, strength, time_range, alphas_cumprod):
    """(first index, starting latent) of a run: (0, x_T) without an init latent."""
    if x0_init is None:
        if strength != 1:
            raise ValueError(f'strength {strength} < 1 needs an init latent (x0_init)')
        return 0, x_T
    if x0_init.shape != x_T.shape:
        raise ValueError(f'x0_init has shape {tuple(x0_init.shape)}, x_T {tuple(x_T.shape)}')
    i0 = img2img_start(time_range, strength, len(alphas_cumprod))
    return i0, noised_init(x0_init, x_T, alphas_cumprod, time_range[i0])


def guided_eps(apply_model, c, c_null, scale):
    """Classifier-free guidance as an eps_fn(x, t): ε_u + scale·(ε_c − ε_u).

    CompVis `PLMSSampler.p_sample_plms` / `DDIMSampler.p_sample_ddim` (unconditional_guidance_scale):
        x_in = cat([x] * 2); t_in = cat([t] * 2); c_in = cat([unconditional_conditioning, c])
        e_t_uncond, e_t = apply_model(x_in, t_in, c_in).chunk(2)
        e_t = e_t_uncond + scale * (e_t - e_t_uncond)
    apply_model(x [2B, C, h, w], t [2B] long, c [2B, 77, D]) → ε. c: [B, 77, D]; c_null: [77, D] or
    [1, 77, D] (the learned null context, repeated over the batch). scale = 1 is one plain conditional call.
    """
    if scale == 1:
        return lambda x, t: apply_model(x, t, c)
    cn = c_null.reshape(1, *c.shape[1:]).expand(c.shape[0], *c.shape[1:])
    c_in = torch.cat([cn, c])

    def eps_fn(x, t):
        e_u, e_c = apply_model(torch.cat([x] * 2), torch.cat([t] * 2), c_in).chunk(2)
        return e_u + scale * (e_c - e_u)
    return eps_fn


@torch.no_grad()
def plms_sample(eps_fn, x_T, num_steps, alphas_cumprod, x0_init=None, strength=1.0):
    """PLMS with eta 0. eps_fn(x, t[B] long) → ε. Returns dict of per-step records (descending t).

    With x0_init (img2img) the run starts at step img2img_start(strength) from
    √ᾱ_t·x0_init + √(1−ᾱ_t)·x_T, runs only the remaining steps, with an empty multistep history (so
    its first step is the pseudo improved Euler one), and records only those steps.
    """
    ts = ddim_timesteps(num_steps, len(alphas_cumprod))
    params = ddim_parameters(alphas_cumprod, ts, 0.)
    time_range = np.flip(ts)
    total = len(ts)
    b = x_T.shape[0]
    i0, x = _start(x_T, x0_init, strength, time_range, alphas_cumprod)
    old_eps, rec = [], {'timesteps': time_range[i0:].copy(), 'x_t': [], 'eps': [], 'x0': [], 'start_index': i0}
    zero = torch.zeros_like(x_T)
    for i, step in enumerate(time_range):
        if i < i0:
            continue
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
def ddim_sample(eps_fn, x_T, num_steps, eta, alphas_cumprod, generator, x0_init=None, strength=1.0):
    """DDIM with per-step unit noise drawn from `generator` (recorded as 'noise'), scaled by sigma_i.

    img2img (x0_init, strength) as in plms_sample: only the steps run draw noise and are recorded.
    """
    ts = ddim_timesteps(num_steps, len(alphas_cumprod))
    params = ddim_parameters(alphas_cumprod, ts, eta)
    time_range = np.flip(ts)
    total = len(ts)
    b = x_T.shape[0]
    i0, x = _start(x_T, x0_init, strength, time_range, alphas_cumprod)
    rec = {'timesteps': time_range[i0:].copy(), 'x_t': [], 'eps': [], 'x0': [], 'noise': [], 'start_index': i0}
    for i, step in enumerate(time_range):
        if i < i0:
            continue
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
