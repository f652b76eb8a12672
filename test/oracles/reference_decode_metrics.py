#!/usr/bin/python3
"""Oracle of decode.metrics.test.ts: PCC, SSIM and the CNN class of the PNGs `npm run decode` wrote, against
the data set's stimulus image, computed independently of src/eval (zlib PNG decoding, numpy, torch).

usage: reference_decode_metrics.py <out dir> <n samples> <data dir> <train|test> <image index>
Prints JSON: [{name, pcc, ssim, cnnClass}] for sample 0..n-1, with n > 1 the pixel mean (from --dump's image.npy),
and the low-level start (lowlevel.png) when the run wrote one.
PCC: np.corrcoef of the channel-mean grey images; SSIM: skimage structural_similarity's formula (7×7 uniform
window, sample covariance, K1 0.01, K2 0.03, data_range 1, mean over the valid windows); CNN: the torch
module the classifier was trained as (python/cad_ref/train/classifier.py).
"""
import json, os, struct, sys, zlib

import numpy as np
import torch
from numpy.lib.stride_tricks import sliding_window_view

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'python'))
from cad_ref.train.classifier import load, logits  # noqa: E402


def read_png_rgb8(path):
    data = open(path, 'rb').read()
    assert data[:8] == b'\x89PNG\r\n\x1a\n'
    pos, idat, w, h = 8, b'', None, None
    while pos < len(data):
        n, kind = struct.unpack('>I4s', data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        if kind == b'IHDR':
            w, h, depth, colour = struct.unpack('>IIBB', body[:10])
            assert depth == 8 and colour == 2, 'expected 8-bit RGB'
        elif kind == b'IDAT':
            idat += body
        pos += 12 + n
    raw, stride = zlib.decompress(idat), w * 3
    out, prev = np.zeros((h, stride), np.uint8), np.zeros(stride, np.int64)
    for y in range(h):
        f, row = raw[y * (stride + 1)], np.frombuffer(raw, np.uint8, stride, y * (stride + 1) + 1).astype(np.int64)
        cur = np.zeros(stride, np.int64)
        for x in range(stride):
            a = cur[x - 3] if x >= 3 else 0
            b, c = prev[x], (prev[x - 3] if x >= 3 else 0)
            p = a + b - c
            pred = [0, a, b, (a + b) // 2,
                    a if abs(p - a) <= abs(p - b) and abs(p - a) <= abs(p - c) else (b if abs(p - b) <= abs(p - c) else c)][f]
            cur[x] = (row[x] + pred) & 255
        out[y], prev = cur, cur
    return out.reshape(h, w, 3)


def ssim(a, b):
    win = 7
    m = lambda z: sliding_window_view(z, (win, win)).mean(axis=(-1, -2))
    ux, uy = m(a), m(b)
    cov = win * win / (win * win - 1)
    vx, vy, vxy = cov * (m(a * a) - ux * ux), cov * (m(b * b) - uy * uy), cov * (m(a * b) - ux * uy)
    c1, c2 = 0.01 ** 2, 0.03 ** 2
    return float((((2 * ux * uy + c1) * (2 * vxy + c2)) / ((ux ** 2 + uy ** 2 + c1) * (vx + vy + c2))).mean())


def main(out, n, data, split, index):
    n, index = int(n), int(index)
    gt = np.load(os.path.join(data, 'images_32.npz'))[f'{split}_images'][index].astype(np.float64).reshape(32, 32) / 255
    rgb = [read_png_rgb8(os.path.join(out, f'sample_{i}.png')).astype(np.float64) / 255 for i in range(n)]
    names = [f'sample {i}' for i in range(n)]
    if n > 1:  # the mean of the float images (decode --dump's image.npy), then 8 bits, as the studio shows it
        rgb.append(np.round(np.clip(np.load(os.path.join(out, 'image.npy')).mean(axis=0), 0, 1) * 255) / 255)
        names.append('mean of samples')
    if os.path.exists(os.path.join(out, 'lowlevel.png')):  # the low-level start, written with --init lowlevel
        rgb.append(read_png_rgb8(os.path.join(out, 'lowlevel.png')).astype(np.float64) / 255)
        names.append('low-level start')
    assert all(r.shape == (32, 32, 3) for r in rgb), 'the default model decodes 32×32 images, the ground truth size'
    grey = [r.mean(axis=-1) for r in rgb]
    classes = json.load(open(os.path.join(data, 'class_index.json')))
    cls = logits(load(os.path.join(data, 'classifier_cnn.npz')), np.stack(grey).astype(np.float32)).argmax(axis=1)
    print(json.dumps([{'name': nm, 'pcc': float(np.corrcoef(g.reshape(-1), gt.reshape(-1))[0, 1]), 'ssim': ssim(g, gt),
                       'cnnClass': classes[str(int(c))][1]} for nm, g, c in zip(names, grey, cls)]))


if __name__ == '__main__':
    torch.set_num_threads(1)
    main(*sys.argv[1:6])
