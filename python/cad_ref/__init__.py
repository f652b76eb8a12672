"""PyTorch reference of the CAD fMRI→image decoder, with the authors' parameter names.

One file per network (fmri_mae, cond_stage, unet, vq), the schedule and samplers (diffusion),
checkpoint writers (checkpoints) and the golden-vector generator (golden). torch + numpy only.
"""
