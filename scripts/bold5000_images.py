#!/usr/bin/python3
"""Convert BOLD5000 stimulus images to the studio's ground-truth layout, without pickles in the browser.

The authors ship the images as a pickled dict (img_dict.npy: {image name: HxWx3 uint8}) or as a folder of
JPEG files. Unpickling runs arbitrary code, so the studio and the CLI never do it: run this script once, on
a file you trust, to write an .npz of plain arrays:

    images      [N, S, S, 3] uint8   every image resized to S x S (default 256, bilinear; PIL if installed,
                                     else numpy nearest-neighbour)
    names_utf8  [bytes] uint8        the N image names joined by newlines, UTF-8 (names as in CSIn_stim_lists.txt)

Usage:
    python3 scripts/bold5000_images.py img_dict.npy OUT.npz [--size 256] [--only CSI1_stim_lists.txt]
    python3 scripts/bold5000_images.py Scene_Stimuli/Presented_Stimuli/ OUT.npz [--size 256] [--only ...]

--only keeps the images named in a stimulus list (e.g. the 113 repeated test images and the rest of one
subject's session), which keeps the file small. Then give OUT.npz to `npm run decode -- --truth OUT.npz`
or the studio's "Ground-truth images…" button.
"""
import argparse
import os
import sys

import numpy as np


def resize(img, size):
    img = np.asarray(img)
    if img.ndim == 2:
        img = np.repeat(img[:, :, None], 3, axis=2)
    img = img[:, :, :3].astype(np.uint8)
    try:
        from PIL import Image
        return np.asarray(Image.fromarray(img).resize((size, size), Image.BILINEAR))
    except ImportError:
        ys = (np.arange(size) * img.shape[0] / size).astype(int)
        xs = (np.arange(size) * img.shape[1] / size).astype(int)
        return img[ys][:, xs]


def load(src):
    if os.path.isdir(src):
        from PIL import Image  # JPEG decoding needs PIL
        for root, _, files in os.walk(src):
            for n in sorted(files):
                if n.lower().endswith(('.jpg', '.jpeg', '.png')):
                    yield n, np.asarray(Image.open(os.path.join(root, n)).convert('RGB'))
    else:
        d = np.load(src, allow_pickle=True)   # the user's own trusted file, unpickled here and only here
        d = d.item() if d.dtype == object and d.shape == () else d
        for n in sorted(d):
            yield str(n), d[n]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('src')
    ap.add_argument('out')
    ap.add_argument('--size', type=int, default=256)
    ap.add_argument('--only', help='stimulus list: keep only the images it names')
    a = ap.parse_args()
    keep = None
    if a.only:
        with open(a.only) as f:
            keep = {l.strip() for l in f if l.strip()}
    names, images = [], []
    for n, img in load(a.src):
        if keep is not None and n not in keep:
            continue
        names.append(n)
        images.append(resize(img, a.size))
    if not images:
        sys.exit('no image found' + (' among the names of --only' if keep else ''))
    np.savez(a.out, images=np.stack(images), names_utf8=np.frombuffer('\n'.join(names).encode('utf-8'), np.uint8))
    print(f'{len(names)} images {a.size}x{a.size} -> {a.out}')


if __name__ == '__main__':
    main()
