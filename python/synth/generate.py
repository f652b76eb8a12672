#!/usr/bin/python3
"""Generate the SYNTHETIC GOD-like fMRI sample set "god-synth" (spec data.md §3).

Simulated responses, not brain data: real Fashion-MNIST images and real MNI (Brodmann) atlas
geometry, with a pRF / Gabor-energy / CSS encoding model, an injected category part in HVC and a
structured noise model. Follows the Appendix prototype of data.md with the recommended retinotopy
(a = 0.8, k = 10 mm). Inputs are Debian files only (dataset-fashion-mnist, mricron-data).

  /usr/bin/python3 python/synth/generate.py --out public/data/god-synth            # shipped sbj_3
  /usr/bin/python3 python/synth/generate.py --out .cache/synth --subjects 1,2,4,5 --no-extras
  add --pool N to also simulate N unlabeled responses to pretraining-pool images per subject.
"""
import argparse, gzip, hashlib, json, os, subprocess, sys, time
import numpy as np
from scipy.ndimage import gaussian_filter

GENERATOR_VERSION = '1.0.0'
LABEL = 'SYNTHETIC – simulated responses, not brain data'
HONESTY = ('synthetic fMRI: responses simulated from a pRF/Gabor-energy encoding model on MNI atlas geometry, '
           'with Fashion-MNIST stimuli. Not real brain data. Never present accuracies on it as results about '
           'brains or as comparable to GOD numbers.')
FM = '/usr/share/datasets/fashion-mnist/'
ATLAS = '/usr/share/mricron/templates/brodmann.nii.gz'
FM_FILES = ['train-images-idx3-ubyte.gz', 'train-labels-idx1-ubyte.gz', 't10k-images-idx3-ubyte.gz', 't10k-labels-idx1-ubyte.gz']
CLASSES = ['T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot']
DEFAULT_SUBJECT = 3  # the shipped subject uses the nominal parameters (no per-subject jitter)

P = dict(fov_deg=12.0, n_px=32, sf_cyc=(2, 4, 8), n_ori=8, vox_mm=3, occupancy=0.5,
         areas=dict(V1=17, V2=18, V3=19, HVC=37), n_keep=dict(V1=1111, V2=1300, V3=1100, HVC=1000),
         ecc_a=0.8, ecc_k=10.0, ecc0=0.2, prf_slope=(0.12, 0.2, 0.3), prf_sig0=(0.3, 0.5, 0.7),
         hvc_centre_sd=1.5, hvc_sigma=(2.5, 5.0), prf_logsd=0.15, angle_scale_mm=12.0,
         sf_width2=0.8, ori_amp=0.3, lum_sd=0.3,
         css_n=(0.5, 0.4, 0.35, 0.3), sem_mix=(0.0, 0.05, 0.15, 0.4), sem_emb_pcs=6, sem_emb_rand=10,
         ncsnr_median=0.24, ncsnr_logsd=0.6, dead_frac=0.2, dead_gain=0.1,
         noise_var=dict(white=0.35, smooth6mm=0.25, lowrank20_15mm=0.30, global_=0.10),
         smooth_fwhm_mm=6.0, lowrank_n=20, lowrank_fwhm_mm=15.0,
         trial_gain=(0.7, 1.3), run_offset_sd=0.7, run_drift_sd=0.3,
         n_train_per_class=120, n_test_per_class=5, n_train_runs=24, n_test_reps=35, ship_test_reps=5, q=1 / 32,
         subject_jitter=dict(total_voxels=(4100, 4700), atlas_shift_vox=1, ecc_k_rel=0.15, prf_size=(0.8, 1.2),
                             snr_logsd=0.25))


def sha256(path):
    h = hashlib.sha256()
    with open(path, 'rb') as f:
        for b in iter(lambda: f.read(1 << 20), b''):
            h.update(b)
    return h.hexdigest()


def idx(f, off):
    return np.frombuffer(gzip.open(FM + f).read(), np.uint8, offset=off)


def load_nifti(fn):
    """Minimal little-endian NIfTI-1 reader (data + sform rows), so the atlas needs no nibabel."""
    raw = gzip.decompress(open(fn, 'rb').read())
    dt = {2: np.uint8, 4: np.int16, 8: np.int32, 16: np.float32, 64: np.float64}
    dim = np.frombuffer(raw[40:56], '<i2')
    dtype = dt[int(np.frombuffer(raw[70:72], '<i2')[0])]
    off = int(np.frombuffer(raw[108:112], '<f4')[0])
    shape = tuple(int(x) for x in dim[1:1 + dim[0]])
    srow = np.frombuffer(raw[280:328], '<f4').reshape(3, 4).astype(np.float64)
    n = int(np.prod(shape)) * np.dtype(dtype).itemsize
    return np.frombuffer(raw[off:off + n], dtype).reshape(shape, order='F'), srow


def load_images(image_seed):
    """Seeded GOD-like split: 120/class train from the official train split, 5/class test from t10k only."""
    rng = np.random.default_rng(image_seed)
    Xa = idx(FM_FILES[0], 16).reshape(-1, 28, 28); Ya = idx(FM_FILES[1], 8)
    Xb = idx(FM_FILES[2], 16).reshape(-1, 28, 28); Yb = idx(FM_FILES[3], 8)
    tr = np.concatenate([rng.choice(np.flatnonzero(Ya == c), P['n_train_per_class'], replace=False) for c in range(10)])
    rng.shuffle(tr)
    te = np.concatenate([rng.choice(np.flatnonzero(Yb == c), P['n_test_per_class'], replace=False) for c in range(10)])
    pool = np.setdiff1d(np.arange(len(Ya)), tr)  # the 58,800 pretraining-pool images
    return dict(Xa=Xa, Ya=Ya, Xb=Xb, Yb=Yb, tr=tr, te=te, pool=pool)


def pad32(X):
    return np.pad(X, ((0, 0), (2, 2), (2, 2)))


class Subject:
    """One simulated subject: geometry, tuning, noise loadings. All randomness from one generator."""

    def __init__(self, subject, seed, Itr_for_sem, ytr_for_sem):
        self.subject = subject
        self.rng = rng = np.random.default_rng([seed, subject])
        nominal = subject == DEFAULT_SUBJECT
        J = P['subject_jitter']
        self.jitter = dict(
            atlas_shift_vox=[0, 0, 0] if nominal else rng.integers(-J['atlas_shift_vox'], J['atlas_shift_vox'] + 1, 3).tolist(),
            total_voxels=None if nominal else int(rng.integers(J['total_voxels'][0], J['total_voxels'][1] + 1)),
            ecc_k=P['ecc_k'] if nominal else float(P['ecc_k'] * (1 + rng.uniform(-J['ecc_k_rel'], J['ecc_k_rel']))),
            prf_size=1.0 if nominal else float(rng.uniform(*J['prf_size'])),
            snr_factor=1.0 if nominal else float(np.exp(rng.normal(0, J['snr_logsd']))))
        N = P['n_px']; self.N = N; dpp = P['fov_deg'] / N
        # Gabor quadrature-energy bank (DC-free) + signed luminance channel
        yy, xx = np.meshgrid(np.arange(N) - N / 2, np.arange(N) - N / 2, indexing='ij'); bank = []
        for cyc in P['sf_cyc']:
            f = cyc / N; s = 0.5 / f; env = np.exp(-(xx ** 2 + yy ** 2) / (2 * s * s))
            for k in range(P['n_ori']):
                th = np.pi * k / P['n_ori']; g = env * np.exp(2j * np.pi * f * (xx * np.cos(th) + yy * np.sin(th)))
                g -= g.mean() * env / env.mean()
                bank.append(np.fft.fft2(np.fft.ifftshift(g)))
        self.bank = np.array(bank); C = len(bank) + 1
        # voxels: Brodmann atlas (MNI 1 mm) -> 3 mm grid, >= 50% occupancy
        A, S = load_nifti(ATLAS); s = P['vox_mm']; self.S = S
        shift = np.array(self.jitter['atlas_shift_vox']) * s
        if shift.any():
            A = np.roll(A, tuple(shift), axis=(0, 1, 2))
        sh = [d // s for d in A.shape]; self.grid_shape = sh

        def occ(ba):
            return np.isin(A, [ba])[:sh[0] * s, :sh[1] * s, :sh[2] * s].reshape(sh[0], s, sh[1], s, sh[2], s).mean((1, 3, 5))
        keep = dict(P['n_keep'])
        if self.jitter['total_voxels'] is not None:
            tot = sum(keep.values()); keep = {k: int(round(v * self.jitter['total_voxels'] / tot)) for k, v in keep.items()}
        ijk = []; lab = []
        for i, (name, ba) in enumerate(P['areas'].items()):
            v = np.argwhere(occ(ba) >= P['occupancy'])
            v = v[np.sort(rng.choice(len(v), min(keep[name], len(v)), replace=False))]
            ijk.append(v); lab += [i] * len(v)
        ijk = np.concatenate(ijk); lab = np.array(lab); V = len(lab)
        # voxel centre in MNI mm; the atlas shift is a re-registration, so coordinates follow the shifted grid
        self.affine3 = np.vstack([np.hstack([S[:, :3] * s, (S[:, :3] @ np.ones(3) + S[:, 3])[:, None]]), [0, 0, 0, 1]])
        xyz = ijk @ self.affine3[:3, :3].T + self.affine3[:3, 3]
        self.ijk, self.lab, self.V, self.xyz = ijk, lab, V, xyz
        # pseudo-retinotopy from anatomy (§3.3)
        hemi = np.where(xyz[:, 0] < 0, -1, 1); zc = np.zeros(V)
        for h in (-1, 1):
            v1 = (lab == 0) & (hemi == h); p = np.polyfit(xyz[v1, 1], xyz[v1, 2], 1); zc[hemi == h] = np.polyval(p, xyz[hemi == h, 1])
        d = xyz[:, 1] - xyz[lab == 0, 1].min()
        ecc = P['ecc_a'] * (np.exp(d / self.jitter['ecc_k']) - 1) + P['ecc0']
        ang = np.clip((zc - xyz[:, 2]) / P['angle_scale_mm'], -1, 1) * np.pi / 2
        x0 = -hemi * ecc * np.cos(ang); y0 = ecc * np.sin(ang)
        sig = np.r_[P['prf_slope'], 0][lab] * ecc + np.r_[P['prf_sig0'], 0][lab]; hv = lab == 3
        x0[hv] = rng.normal(0, P['hvc_centre_sd'], hv.sum()); y0[hv] = rng.normal(0, P['hvc_centre_sd'], hv.sum())
        sig[hv] = rng.uniform(*P['hvc_sigma'], hv.sum())
        sig *= np.exp(rng.normal(0, P['prf_logsd'], V)) * self.jitter['prf_size']
        gx = (np.arange(N) + 0.5 - N / 2) * dpp; GX, GY = np.meshgrid(gx, -gx)
        PRF = np.exp(-((GX[None] - x0[:, None, None]) ** 2 + (GY[None] - y0[:, None, None]) ** 2) / (2 * sig[:, None, None] ** 2)) \
            / ((2 * np.pi * sig[:, None, None] ** 2) / dpp ** 2)  # unit integral over the whole plane
        self.PRF = PRF.reshape(V, -1); self.ecc, self.x0, self.y0, self.sig = ecc, x0, y0, sig
        sfpref = np.clip(2 - np.log2(1 + ecc), 0, 2); W = np.zeros((V, C)); no = P['n_ori']
        for k in range(len(P['sf_cyc'])):
            W[:, k * no:(k + 1) * no] = np.exp(-(k - sfpref) ** 2 / P['sf_width2'])[:, None] * \
                (1 + P['ori_amp'] * np.cos(2 * np.arange(no) * np.pi / no - 2 * rng.uniform(0, np.pi, V)[:, None]))
        W[:, -1] = rng.normal(0, P['lum_sd'], V); self.W = W; self.n_exp = np.array(P['css_n'])[lab]; self.C = C
        # semantic part: category embedding (first PCs of class-mean images + random dims) and coarse shape
        cm = np.stack([Itr_for_sem[ytr_for_sem == c].mean(0).ravel() for c in range(10)])
        U = np.linalg.svd(cm - cm.mean(0), full_matrices=False)[0]
        self.emb = np.concatenate([U[:, :P['sem_emb_pcs']] * np.sqrt(10), rng.normal(0, 0.5, (10, P['sem_emb_rand']))], 1)
        ne = self.emb.shape[1]
        self.Wc = rng.normal(0, 1, (V, ne)); self.Ws = rng.normal(0, 1, (64, 32)); self.Wv = rng.normal(0, 1, (V, 32))
        self.mix = np.array(P['sem_mix'])[lab]
        cov = self.PRF.sum(1); gain = np.clip(cov / np.quantile(cov, 0.9), 0, 1) ** 0.5; gain[hv] = 1
        ncsnr = np.exp(rng.normal(np.log(P['ncsnr_median']), P['ncsnr_logsd'], V)) * gain
        ncsnr[rng.random(V) < P['dead_frac']] *= P['dead_gain']
        self.ncsnr = ncsnr * self.jitter['snr_factor']
        self.G3 = tuple(ijk.max(0) + 1)
        LR = np.stack([gaussian_filter(rng.normal(0, 1, self.G3), P['lowrank_fwhm_mm'] / 2.355 / s) for _ in range(P['lowrank_n'])])
        LR = LR[:, ijk[:, 0], ijk[:, 1], ijk[:, 2]]; self.LR = LR / LR.std(1, keepdims=True)

    def energy(self, I):
        F = np.fft.fft2(I - 0.5)[:, None] * self.bank[None]
        return np.concatenate([np.abs(np.fft.ifft2(F)), (I - 0.5)[:, None]], 1)

    def lowlevel(self, I, chunk=200):
        out = []
        for i in range(0, len(I), chunk):  # chunked: the energy maps of 1,200 images do not fit comfortably at once
            E = self.energy(I[i:i + chunk]).reshape(len(I[i:i + chunk]), self.C, -1)
            D = np.einsum('vp,ncp->nvc', self.PRF, E, optimize=True); r = np.einsum('nvc,vc->nv', D, self.W)
            out.append(np.sign(r) * np.abs(r) ** self.n_exp)
        return np.concatenate(out)

    def semantic(self, I, y):
        co = I.reshape(len(I), 8, 4, 8, 4).mean((2, 4)).reshape(len(I), -1)
        return 0.5 * (self.emb[y] + 0.5 * self.rng.normal(0, 1, (len(y), self.emb.shape[1]))) @ self.Wc.T \
            + 0.3 * np.maximum(co @ self.Ws, 0) @ self.Wv.T

    def noise(self, n):
        ijk, nv, s = self.ijk, P['noise_var'], P['vox_mm']
        sm = np.stack([gaussian_filter(self.rng.normal(0, 1, self.G3), P['smooth_fwhm_mm'] / 2.355 / s) for _ in range(n)])
        sm = sm[:, ijk[:, 0], ijk[:, 1], ijk[:, 2]]; sm /= sm.std()
        return (np.sqrt(nv['white']) * self.rng.normal(0, 1, (n, self.V)) + np.sqrt(nv['smooth6mm']) * sm
                + np.sqrt(nv['lowrank20_15mm']) * (self.rng.normal(0, 1, (n, P['lowrank_n'])) @ self.LR) / np.sqrt(P['lowrank_n'])
                + np.sqrt(nv['global_']) * self.rng.normal(0, 1, (n, 1)))

    def session(self, Sig, runs):
        rng = self.rng
        X = Sig * self.ncsnr * rng.uniform(*P['trial_gain'], (len(Sig), 1)) + self.noise(len(Sig))
        for r in np.unique(runs):
            k = runs == r
            X[k] += rng.normal(0, P['run_offset_sd'], self.V) + np.linspace(-1, 1, k.sum())[:, None] * rng.normal(0, P['run_drift_sd'], self.V)
            X[k] -= X[k].mean(0)  # preprocessing: per-run centring
        return X


def simulate(subj, Itr, ytr, Ite, yte, Ipool=None, ypool=None):
    rng = subj.rng; z = lambda a, ref: (a - ref.mean(0)) / (ref.std(0) + 1e-9)
    Ltr, Lte = subj.lowlevel(Itr), subj.lowlevel(Ite); Htr, Hte = subj.semantic(Itr, ytr), subj.semantic(Ite, yte)
    m = subj.mix
    mix = lambda L, H: np.sqrt(1 - m) * z(L, Ltr) + np.sqrt(m) * z(H, Htr)
    Str, Ste = mix(Ltr, Htr), mix(Lte, Hte)
    n_tr = len(Itr); per_run = n_tr // P['n_train_runs']
    Xtr = subj.session(Str, np.repeat(np.arange(P['n_train_runs']), per_run))  # training order = array order (shuffled split)
    nte = len(Ite)
    Xrep = np.stack([subj.session(Ste[o], np.zeros(nte, int))[np.argsort(o)]
                     for o in (rng.permutation(nte) for _ in range(P['n_test_reps']))])
    out = dict(Xtr=Xtr, Xrep=Xrep)
    if Ipool is not None and len(Ipool):
        Spool = mix(subj.lowlevel(Ipool), subj.semantic(Ipool, ypool))
        nrun = int(np.ceil(len(Ipool) / per_run))
        out['Xpool'] = subj.session(Spool, np.repeat(np.arange(nrun), per_run)[:len(Ipool)])
    return out


def quantiser(Xtr):
    mu, sd = Xtr.mean(0), Xtr.std(0)
    Zf = lambda X: (X - mu) / sd
    q = lambda X: np.clip(np.round(Zf(X) / P['q']), -127, 127).astype(np.int8)
    return Zf, q


def baselines(Ztr, Zavg, Zsingle, Itr, Ite, yte, gallery, ygallery, seed):
    """Reference baselines of data.md §3.9 (sklearn), on the dequantised shipped arrays."""
    from sklearn.linear_model import Ridge, LogisticRegression
    from sklearn.decomposition import PCA
    Gm = gallery.reshape(len(gallery), -1)
    pca = PCA(64, random_state=0).fit(Gm)
    dec = Ridge(alpha=300).fit(Ztr, pca.transform(Itr.reshape(len(Itr), -1)))
    clf = LogisticRegression(max_iter=1000, C=0.05).fit(Gm, ygallery)
    T = Ite.reshape(len(Ite), -1); LG = pca.transform(Gm); n = len(T)

    def scores(R):
        Cm = np.corrcoef(R, T)[:n, n:]
        return dict(top1_50way=float(np.mean(Cm.argmax(1) == np.arange(n))),
                    pair2way_pcc=float(np.mean([Cm[i, i] > Cm[i, j] for i in range(n) for j in range(n) if i != j])),
                    class_acc=float(np.mean(clf.predict(R) == yte)))
    res = {}
    for name, X in (('avg35', Zavg), ('single', Zsingle)):
        Lp = dec.predict(X)
        res[f'ridge_pca64_{name}'] = scores(pca.inverse_transform(Lp))
        res[f'prior_retrieval_{name}'] = scores(Gm[np.corrcoef(Lp, LG)[:n, n:].argmax(1)])
    perm = np.random.default_rng(seed).permutation(len(Ztr))
    shuf = Ridge(alpha=300).fit(Ztr, pca.transform(Itr.reshape(len(Itr), -1))[perm])
    res['shuffled_pairing_avg35'] = scores(pca.inverse_transform(shuf.predict(Zavg)))
    return res, pca, clf


def write_nifti(path, vol, affine):
    import nibabel as nib
    img = nib.Nifti1Image(vol, affine)
    img.header.set_xyzt_units('mm'); img.set_sform(affine, code=4); img.set_qform(affine, code=4)  # 4 = MNI
    nib.save(img, path)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--out', required=True, help='output folder')
    ap.add_argument('--subjects', default=str(DEFAULT_SUBJECT), help='comma list, e.g. 3 or 1,2,4,5')
    ap.add_argument('--subject', type=int, help='a single subject (same as --subjects N)')
    ap.add_argument('--seed', type=int, default=0, help='simulation seed (subject k uses rng([seed, k]))')
    ap.add_argument('--image-seed', type=int, default=0, help='seed of the image split (shared by all subjects)')
    ap.add_argument('--pool', type=int, default=0, help='also simulate N unlabeled responses to pretraining-pool images')
    ap.add_argument('--no-extras', action='store_true', help='only sbj_N.npz (+ meta): no images, samples, classifier')
    ap.add_argument('--no-baselines', action='store_true', help='skip the sklearn calibration baselines')
    ap.add_argument('--truth', help='write sbj_N_truth.npz (diagnostics only) into this folder; refused under public/')
    a = ap.parse_args()
    subjects = [a.subject] if a.subject is not None else [int(s) for s in a.subjects.split(',') if s.strip()]
    if a.truth and 'public' in os.path.abspath(a.truth).split(os.sep):
        sys.exit('refusing to write the simulation truth under public/ (it must never be shipped)')
    os.makedirs(a.out, exist_ok=True)
    t0 = time.time()
    D = load_images(a.image_seed)
    Itr = pad32(D['Xa'][D['tr']]) / 255.; Ite = pad32(D['Xb'][D['te']]) / 255.
    ytr, yte = D['Ya'][D['tr']], D['Yb'][D['te']]
    pool_rng = np.random.default_rng([a.seed, 999])
    gal = np.sort(pool_rng.choice(D['pool'], 10000, replace=False))  # classifier/PCA gallery: pool only
    Igal = pad32(D['Xa'][gal]) / 255.; ygal = D['Ya'][gal]
    inputs = {f: dict(path=FM + f, sha256=sha256(FM + f)) for f in FM_FILES}
    inputs['brodmann.nii.gz'] = dict(path=ATLAS, sha256=sha256(ATLAS))
    pkgs = {}
    for p in ('dataset-fashion-mnist', 'mricron-data'):
        try:
            pkgs[p] = subprocess.run(['dpkg-query', '-W', '-f=${Version}', p], capture_output=True, text=True).stdout or None
        except OSError:
            pkgs[p] = None
    files = {}
    for k in subjects:
        subj = Subject(k, a.seed, Itr, ytr)
        pool_idx = np.sort(pool_rng.choice(np.setdiff1d(D['pool'], gal), a.pool, replace=False)) if a.pool else np.zeros(0, int)
        sim = simulate(subj, Itr, ytr, Ite, yte, pad32(D['Xa'][pool_idx]) / 255. if a.pool else None, D['Ya'][pool_idx] if a.pool else None)
        Zf, q = quantiser(sim['Xtr'])
        lab = subj.lab
        arrays = dict(arr_0=q(sim['Xtr']), arr_1=q(sim['Xrep'][:P['ship_test_reps']].reshape(-1, subj.V)), arr_2=q(sim['Xrep'].mean(0)),
                      arr_3=np.arange(len(Itr), dtype=np.int16), scale=np.float32(P['q']),
                      VC=np.ones(subj.V, bool), LVC=lab < 3, HVC=lab == 3, V1=lab == 0, V2=lab == 1, V3=lab == 2,
                      voxel_xyz=np.round(subj.xyz).astype(np.int16))
        if a.pool:
            arrays.update(arr_pool=q(sim['Xpool']), pool_index=pool_idx.astype(np.int32), pool_labels=D['Ya'][pool_idx])
        fn = os.path.join(a.out, f'sbj_{k}.npz'); np.savez_compressed(fn, **arrays)
        info = dict(V=int(subj.V), roi_counts={r: int(arrays[r].sum()) for r in ('VC', 'LVC', 'HVC', 'V1', 'V2', 'V3')},
                    jitter=subj.jitter, median_ncsnr=float(np.median(subj.ncsnr)),
                    v1_frac_ecc_lt_6deg=float(np.mean(subj.ecc[lab == 0] < 6)),
                    shipped_test_trial_layout='arr_1 row r*50+i = trial r of test image i (r < %d)' % P['ship_test_reps'],
                    pool_images=int(a.pool))
        if not a.no_baselines:
            deq = lambda A: A.astype(np.float64) * P['q']
            info['baselines_python'], pca, clf = baselines(deq(arrays['arr_0']), deq(arrays['arr_2']),
                                                           deq(arrays['arr_1'][:len(Ite)]), Itr, Ite, yte, Igal, ygal, a.seed)
        if a.truth:
            os.makedirs(a.truth, exist_ok=True)
            np.savez_compressed(os.path.join(a.truth, f'sbj_{k}_truth.npz'), x0=subj.x0, y0=subj.y0, sigma=subj.sig,
                                ncsnr=subj.ncsnr, ecc=subj.ecc, area=lab)
        files[f'sbj_{k}.npz'] = info
        print(f'sbj_{k}: V={subj.V} {json.dumps(info.get("baselines_python", {}))}', flush=True)
        if not a.no_extras and k == subjects[0]:
            write_extras(a.out, subj, arrays, Itr, Ite, ytr, yte, D, None if a.no_baselines else (pca, clf))
    meta = dict(label=LABEL, description=HONESTY, name='god-synth', data='synthetic', generator='python/synth/generate.py',
                generator_version=GENERATOR_VERSION, seed=a.seed, image_seed=a.image_seed, subjects=subjects,
                default_subject=DEFAULT_SUBJECT, parameters=P, inputs=inputs, debian_packages=pkgs,
                quantisation=dict(dtype='int8', scale=P['q'], meaning='value × scale = z-score w.r.t. training-set mean/sd per voxel',
                                  clip=[-127, 127]),
                split=dict(train='120 per class from the Fashion-MNIST train split (training_label.csv: fm_train_index)',
                           test='5 per class from the t10k split only (testing_label.csv: fm_t10k_index)',
                           pretraining_pool='the remaining 58,800 train-split images; never the test images',
                           classifier_gallery='10,000 pool images (classifier.npz, pca64.npz)'),
                category_injection='HVC/V3/V2 carry an injected category embedding (data.md §3.4): category information is there by construction',
                truth_file='never shipped; made with --truth into a folder outside public/',
                files=files, elapsed_s=round(time.time() - t0, 1))
    if not a.no_extras:
        meta['sha256'] = {f: sha256(os.path.join(a.out, f)) for f in sorted(os.listdir(a.out))
                          if f not in ('meta.json',) and os.path.isfile(os.path.join(a.out, f))}
        meta['samples'] = dict(source='arr_2 row 0 (test image 0, 35-trial mean), dequantised, float32 [V]',
                               nifti='3 mm MNI grid (sform code 4); voxel values at voxel_xyz, 0 elsewhere; sample_mask.nii.gz = VC',
                               h5='dataset /fmri float32 [1, V]', csv='one row of V values, no header')
    else:
        meta['sha256'] = {f'sbj_{k}.npz': sha256(os.path.join(a.out, f'sbj_{k}.npz')) for k in subjects}
    with open(os.path.join(a.out, 'meta.json'), 'w') as f:
        json.dump(meta, f, indent=1, ensure_ascii=False)
    print(f'done in {time.time() - t0:.1f} s -> {a.out}')


def write_extras(out, subj, arrays, Itr, Ite, ytr, yte, D, models):
    np.savez_compressed(os.path.join(out, 'images_32.npz'),
                        train_images=np.round(Itr * 255).astype(np.uint8)[..., None], test_images=np.round(Ite * 255).astype(np.uint8)[..., None],
                        train_labels=ytr.astype(np.uint8), test_labels=yte.astype(np.uint8))
    with open(os.path.join(out, 'class_index.json'), 'w') as f:
        json.dump({str(c): [f'fm{c}', n] for c, n in enumerate(CLASSES)}, f, indent=1)
    with open(os.path.join(out, 'training_label.csv'), 'w') as f:
        f.write('image_id,class,fm_train_index\n')
        f.writelines(f'{i},{int(c)},{int(j)}\n' for i, (c, j) in enumerate(zip(ytr, D['tr'])))
    with open(os.path.join(out, 'testing_label.csv'), 'w') as f:
        f.write('image_id,class,fm_t10k_index\n')
        f.writelines(f'{i},{int(c)},{int(j)}\n' for i, (c, j) in enumerate(zip(yte, D['te'])))
    if models is not None:
        pca, clf = models
        # tiny reference models for the TS evaluation, fitted on pool images only (disjoint from train and test)
        np.savez_compressed(os.path.join(out, 'pca64.npz'), mean=pca.mean_.astype(np.float32),
                            components=pca.components_.astype(np.float16))
        np.savez_compressed(os.path.join(out, 'classifier.npz'), weight=clf.coef_.astype(np.float32),
                            bias=clf.intercept_.astype(np.float32))
    x = (arrays['arr_2'][0].astype(np.float32) * np.float32(P['q'])).astype(np.float32)
    np.save(os.path.join(out, 'sample_test0.npy'), x)
    vol = np.zeros(subj.grid_shape, np.float32); ijk = subj.ijk; vol[ijk[:, 0], ijk[:, 1], ijk[:, 2]] = x
    mask = np.zeros(subj.grid_shape, np.uint8); mask[ijk[:, 0], ijk[:, 1], ijk[:, 2]] = 1
    write_nifti(os.path.join(out, 'sample_test0.nii.gz'), vol, subj.affine3)
    write_nifti(os.path.join(out, 'sample_mask.nii.gz'), mask, subj.affine3)
    import h5py
    with h5py.File(os.path.join(out, 'sample_test0.h5'), 'w') as f:
        d = f.create_dataset('fmri', data=x[None])
        d.attrs['label'] = LABEL; d.attrs['source'] = 'god-synth sbj_%d arr_2 row 0' % subj.subject
        d.attrs['test_image'] = 0; d.attrs['class'] = int(yte[0]); d.attrs['units'] = 'z-score'
    np.savetxt(os.path.join(out, 'sample_test0.csv'), x[None], fmt='%.5f', delimiter=',')
    with open(os.path.join(out, 'LICENSE-data.txt'), 'w') as f:
        f.write(LICENSE_TEXT)


LICENSE_TEXT = f"""god-synth — {LABEL}

{HONESTY}

Images (images_32.npz, classifier.npz, pca64.npz are derived from them): Fashion-MNIST,
Copyright (c) 2017 Zalando SE, MIT License (Debian package dataset-fashion-mnist):

  Permission is hereby granted, free of charge, to any person obtaining a copy of this software and
  associated documentation files (the "Software"), to deal in the Software without restriction,
  including without limitation the rights to use, copy, modify, merge, publish, distribute,
  sublicense, and/or sell copies of the Software, and to permit persons to whom the Software is
  furnished to do so, subject to the following conditions: The above copyright notice and this
  permission notice shall be included in all copies or substantial portions of the Software.
  THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR IMPLIED.

Voxel coordinates (voxel_xyz, ROI masks, sample_*.nii.gz geometry) are derived from the Brodmann
map of MRIcron (Debian package mricron-data, BSD-3-Clause, Chris Rorden). The atlas itself is not
redistributed here. The simulated responses are generated by python/synth/generate.py in this repository
and carry the repository's licence.
"""

if __name__ == '__main__':
    main()
