#!/usr/bin/python3
"""Oracle of src/eval/cnn.test.ts: PyTorch logits of the CNN classifier (python/cad_ref/train/classifier.py).

usage: reference_cnn.py <classifier_cnn.npz> <images.npy float32 [n, 32, 32] in [0, 1]> <out logits.npy>
Loads the weights into the torch module the CNN was trained as (fp32, eval mode) and writes logits [n, 10].
"""
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'python'))
from cad_ref.train.classifier import load, logits  # noqa: E402

torch.set_num_threads(1)
weights, images, out = sys.argv[1:4]
np.save(out, logits(load(weights), np.load(images)).astype(np.float32))
