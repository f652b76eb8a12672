"""Low-level decoder: preprocessed fMRI → grey image (ridge to image PCs) → first-stage latent (img2img start).

Reference definition (shared plan, issue 16, deliverable 2; the TypeScript port is src/model/lowlevel.ts):

    p   = x @ W + b                      x: preprocessed fMRI [n, numVoxels] (wrap-padded, z-scored)
    p   = p * norm / max(|p|, 1e-8)      only when the bundle has `coef_norm` (per row, Euclidean norm over K)
    pix = clamp(p @ C + mean, 0, 1)      [n, R*R] grey in [0, 1], row-major, R = config.vq.resolution
    img = pix as [n, 1, R, R] repeated to 3 channels, * 2 − 1          ([-1, 1], NCHW)
    z0  = vq.encode(img)                 quant_conv(encoder(img)), NOT quantised (CompVis VQModelInterface.encode)

The four tensors live in the bundle under names that cannot clash with the authors' keys (EXTRA_NAMES), with
an optional fifth, COEF_NORM [1]. Why the rescale: ridge shrinks its predictions towards the mean image (the more,
the noisier the input), and the sampler started from such a low-contrast latent drifts to the prior's mean; giving
every predicted coefficient vector the norm of a typical training image (times a factor chosen on validation,
cad_ref.train.sampling.choose_lowlevel) keeps the direction the ridge decodes and restores a natural contrast.
"""
import torch

PREFIX = 'decoding_studio.lowlevel.'
RIDGE_WEIGHT = PREFIX + 'ridge.weight'          # [numVoxels, K], layout [in, out]
RIDGE_BIAS = PREFIX + 'ridge.bias'              # [K]
PCA_COMPONENTS = PREFIX + 'pca.components'      # [K, R*R]
PCA_MEAN = PREFIX + 'pca.mean'                  # [R*R]
EXTRA_NAMES = (RIDGE_WEIGHT, RIDGE_BIAS, PCA_COMPONENTS, PCA_MEAN)
COEF_NORM = PREFIX + 'coef_norm'                # [1], optional: the norm every predicted coefficient row gets
NORM_EPS = 1e-8                                  # a zero prediction stays zero (the mean image)


def check_extras(extras, num_voxels=None, resolution=None):
    """Raise ValueError naming any missing or inconsistently shaped low-level tensor; returns (numVoxels, K, R*R)."""
    missing = [n for n in EXTRA_NAMES if n not in extras]
    if missing:
        raise ValueError(f'low-level decoder tensors missing: {", ".join(missing)}')
    w, b, c, m = (extras[n] for n in EXTRA_NAMES)
    if w.ndim != 2 or c.ndim != 2 or b.shape != (w.shape[1],) or c.shape[0] != w.shape[1] or m.shape != (c.shape[1],):
        raise ValueError(f'low-level decoder tensors have inconsistent shapes: ridge.weight {list(w.shape)}, '
                         f'ridge.bias {list(b.shape)}, pca.components {list(c.shape)}, pca.mean {list(m.shape)} '
                         f'(need [V, K], [K], [K, R*R], [R*R])')
    if COEF_NORM in extras and (tuple(extras[COEF_NORM].shape) != (1,) or not float(extras[COEF_NORM][0]) > 0):
        raise ValueError(f'coef_norm must be one positive value [1], found shape {list(extras[COEF_NORM].shape)}')
    if num_voxels is not None and w.shape[0] != num_voxels:
        raise ValueError(f'ridge.weight has {w.shape[0]} inputs but the encoder takes {num_voxels} voxels')
    if resolution is not None and c.shape[1] != resolution * resolution:
        raise ValueError(f'pca.components has {c.shape[1]} pixels but the VQ resolution {resolution} needs '
                         f'{resolution * resolution}')
    return w.shape[0], w.shape[1], c.shape[1]


def lowlevel_pixels(extras, fmri):
    """Preprocessed fMRI [n, numVoxels] → grey pixels [n, R*R] in [0, 1] (float32, row-major)."""
    check_extras(extras, num_voxels=fmri.shape[1])
    w, b, c, m = (extras[n].float() for n in EXTRA_NAMES)
    p = fmri.float() @ w + b
    if COEF_NORM in extras:
        p = p * (extras[COEF_NORM].float() / p.norm(dim=1, keepdim=True).clamp_min(NORM_EPS))
    return torch.clamp(p @ c + m, 0.0, 1.0)


def pixels_to_image(pix):
    """Grey pixels [n, R*R] in [0, 1] → NCHW [n, 3, R, R] in [-1, 1] (the grey copied to all three channels)."""
    n, rr = pix.shape
    r = int(round(rr ** 0.5))
    if r * r != rr:
        raise ValueError(f'{rr} pixels are not a square image')
    return pix.reshape(n, 1, r, r).repeat(1, 3, 1, 1) * 2 - 1


@torch.no_grad()
def lowlevel_latent(extras, vq, fmri):
    """(pix [n, R*R] in [0, 1], z0 [n, embedDim, R/f, R/f]) for preprocessed fMRI [n, numVoxels].

    extras: dict name → tensor holding EXTRA_NAMES (and optionally COEF_NORM); vq: cad_ref.vq.VQModelInterface (its encode does not quantise).
    """
    pix = lowlevel_pixels(extras, fmri)
    return pix, vq.encode(pixels_to_image(pix))
