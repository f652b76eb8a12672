"""Phase-3 `cond_stage_model` (MinD-Vis `dc_ldm/ldm_for_fmri.py`, global_pool=False), spec §4.1."""
import torch.nn as nn

from .fmri_mae import FmriEncoder


class CondStageModel(nn.Module):
    """fMRI [B, 1, V] → encoder [B, L, D] → channel_mapper (token mixing L→L//2→77) → dim_mapper → [B, 77, condDim]."""

    def __init__(self, num_voxels, cond_dim, out_tokens=77, patch_size=16, embed_dim=1024, depth=24,
                 num_heads=16, mlp_ratio=1.0):
        super().__init__()
        self.mae = FmriEncoder(num_voxels, patch_size, embed_dim, depth, num_heads, mlp_ratio)
        seq_len = self.mae.num_patches
        self.channel_mapper = nn.Sequential(
            nn.Conv1d(seq_len, seq_len // 2, 1, bias=True),
            nn.Conv1d(seq_len // 2, out_tokens, 1, bias=True),
        )
        self.dim_mapper = nn.Linear(embed_dim, cond_dim, bias=True)

    def forward(self, x):
        return self.dim_mapper(self.channel_mapper(self.mae(x)))
