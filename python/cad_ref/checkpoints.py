"""Checkpoint writers in the authors' formats (torch.save zip pickles) and safetensors written by hand."""
import json
import struct

import torch

_SAFETENSORS_DTYPES = {torch.float32: 'F32', torch.float16: 'F16', torch.int64: 'I64', torch.uint8: 'U8'}

# Tensors of this project that are not in the authors' checkpoints live under this prefix, which no key of theirs
# has: the learned null context for classifier-free guidance [77, condDim], the low-level decoder (lowlevel.py) and
# the input voxels' positions [rawVoxels, 3] in mm, in input order (src/model/layout.ts VOXEL_XYZ_MM: the readers
# put a masked NIfTI's voxels into this order).
EXTRAS_PREFIX = 'decoding_studio.'
NULL_CONTEXT = EXTRAS_PREFIX + 'null_context'
VOXEL_XYZ_MM = EXTRAS_PREFIX + 'voxels.xyz_mm'


def load_safetensors(path):
    """{name: tensor} from a safetensors file (the inverse of save_safetensors; F32/F16/I64/U8 only)."""
    import numpy as np
    dtypes = {'F32': np.float32, 'F16': np.float16, 'I64': np.int64, 'U8': np.uint8}
    with open(path, 'rb') as f:
        n = struct.unpack('<Q', f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    return {name: torch.from_numpy(np.frombuffer(data[a:b], dtypes[h['dtype']]).reshape(h['shape']).copy())
            for name, h in header.items() if name != '__metadata__' for a, b in [h['data_offsets']]}


def save_safetensors(tensors, path, metadata=None):
    """safetensors: u64 LE header length, JSON header {name: {dtype, shape, data_offsets}}, raw C-order data.

    The header is space-padded to a multiple of 8 bytes, as the reference implementation does.
    """
    header, chunks, offset = {}, [], 0
    if metadata:
        header['__metadata__'] = metadata
    for name, t in tensors.items():
        raw = t.detach().contiguous().cpu().numpy().tobytes()
        header[name] = {'dtype': _SAFETENSORS_DTYPES[t.dtype], 'shape': list(t.shape),
                        'data_offsets': [offset, offset + len(raw)]}
        chunks.append(raw)
        offset += len(raw)
    text = json.dumps(header, separators=(',', ':')).encode('utf-8')
    text += b' ' * (-len(text) % 8)
    with open(path, 'wb') as f:
        f.write(struct.pack('<Q', len(text)))
        f.write(text)
        for raw in chunks:
            f.write(raw)


def with_shared_storage(state, names):
    """Copy of `state` where `names` become views into one shared storage (non-zero storage offsets), and the
    first of them a transposed (non-contiguous) view: real pickles can hold both, readers must honour them."""
    out = dict(state)
    flat = torch.cat([state[n].reshape(-1) for n in names])
    pos = 0
    for n in names:
        numel = state[n].numel()
        out[n] = flat[pos:pos + numel].view(state[n].shape)
        pos += numel
    first = state[names[0]]
    if first.ndim >= 2:
        # Store its transpose contiguously, hand out the transposed view: same values, swapped strides.
        out[names[0]] = first.transpose(0, 1).contiguous().transpose(0, 1)
    return out
