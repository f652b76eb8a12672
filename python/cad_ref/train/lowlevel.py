"""Fits the low-level decoder (python/cad_ref/lowlevel.py): ridge from preprocessed fMRI to K image-PCA coefficients.

The image PCA is the shipped one (public/data/god-synth/pca64.npz: mean [1024], components [64, 1024]), the
same target as the ridge baseline in evaluate.py. The training command fits it on the non-validation training
pairs and picks alpha on the validation split; the tensors go into `<out>/extras.safetensors`, which the export
hands to the converter as an extra checkpoint.
"""
import numpy as np
import torch

from ..checkpoints import save_safetensors
from ..lowlevel import COEF_NORM, PCA_COMPONENTS, PCA_MEAN, RIDGE_BIAS, RIDGE_WEIGHT, check_extras


def fit_lowlevel(x_train, images_u8, pca_mean, pca_components, alpha, norm_factor=None):
    """Ridge fMRI → PCA coefficients, closed form in float64 with an unpenalised intercept (as sklearn's Ridge).

    x_train: [N, numVoxels] preprocessed fMRI (float); images_u8: [N, R, R, 1] or [N, R, R] uint8 grey images
    paired with the rows of x_train; pca_mean: [R*R]; pca_components: [K, R*R] (rows orthonormal); alpha > 0.
    norm_factor: None, or > 0 to add coef_norm = norm_factor × the median Euclidean norm of the training images'
    coefficient vectors (cad_ref/lowlevel.py rescales every prediction to that norm).
    Returns {name: float32 torch tensor} with the four decoding_studio.lowlevel.* tensors (five with coef_norm).
    """
    if not alpha > 0:
        raise ValueError(f'alpha must be positive (got {alpha})')
    x = np.asarray(x_train, dtype=np.float64)
    imgs = np.asarray(images_u8)
    n = len(x)
    if x.ndim != 2 or len(imgs) != n:
        raise ValueError(f'x_train [N, V] and images [N, R, R(, 1)] must pair up; got {list(x.shape)} and {list(imgs.shape)}')
    y_pix = imgs.reshape(n, -1).astype(np.float64) / 255.0
    mean = np.asarray(pca_mean, dtype=np.float64).reshape(-1)
    comps = np.asarray(pca_components, dtype=np.float64)
    if comps.ndim != 2 or comps.shape[1] != y_pix.shape[1] or mean.shape[0] != y_pix.shape[1]:
        raise ValueError(f'PCA mean {list(mean.shape)} / components {list(comps.shape)} do not fit '
                         f'{y_pix.shape[1]}-pixel images')
    y = (y_pix - mean) @ comps.T                                   # [N, K]
    xm, ym = x.mean(0), y.mean(0)
    xc, yc = x - xm, y - ym
    # Solve in the smaller of the primal (V×V) and dual (N×N) spaces; both give the same W.
    if x.shape[1] <= n:
        w = np.linalg.solve(xc.T @ xc + alpha * np.eye(x.shape[1]), xc.T @ yc)
    else:
        w = xc.T @ np.linalg.solve(xc @ xc.T + alpha * np.eye(n), yc)
    b = ym - xm @ w
    out = {RIDGE_WEIGHT: w, RIDGE_BIAS: b, PCA_COMPONENTS: comps, PCA_MEAN: mean}
    if norm_factor is not None:
        if not norm_factor > 0:
            raise ValueError(f'norm_factor must be positive (got {norm_factor})')
        out[COEF_NORM] = np.array([norm_factor * np.median(np.linalg.norm(y, axis=1))])
    out = {k: torch.from_numpy(np.ascontiguousarray(v, dtype=np.float32)) for k, v in out.items()}
    check_extras(out, num_voxels=x.shape[1])
    return out


def save_extras(path, tensors):
    """Write {name: tensor} as float32 safetensors (the converter merges it with the phase-3 checkpoint)."""
    save_safetensors({k: v.detach().float().contiguous() for k, v in tensors.items()}, path,
                     metadata={'format': 'pt', 'producer': 'cad_ref.train.lowlevel'})
