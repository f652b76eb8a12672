"""Config classes as pickled into the authors' checkpoints (vis_dec `code/config.py`).

The authors' `torch.save` pickles instances of these classes by the global name `config.<Class>`,
so this module also registers itself as the top-level module `config`: checkpoints written here
reference the same globals as the real ones, and real ones load once `cad_ref.config` is imported.
"""
import os
import sys


class Config_MAE_fMRI:  # back compatibility base, as upstream
    pass


class Config_MBM_fMRI_contrast(Config_MAE_fMRI):
    """Phase-1 DC-MAE settings (stageA1_mbm_pretrain_contrast.py)."""

    def __init__(self):
        # training
        self.lr = 2.5e-4
        self.min_lr = 0.
        self.weight_decay = 0.05
        self.num_epoch = 500
        self.warmup_epochs = 40
        self.batch_size = 100
        self.clip_grad = 0.8
        # model
        self.mask_ratio = 0.75
        self.patch_size = 16
        self.embed_dim = 1024
        self.decoder_embed_dim = 512
        self.depth = 24
        self.num_heads = 16
        self.decoder_num_heads = 16
        self.decoder_depth = 8
        self.mlp_ratio = 1.0
        # project
        self.root_path = '.'
        self.output_path = self.root_path
        self.seed = 2022
        self.roi = 'VC'
        self.aug_times = 1
        self.num_sub_limit = None
        self.include_hcp = True
        self.include_kam = True
        self.accum_iter = 1
        self.use_nature_img_loss = False
        self.img_recon_weight = 0.5
        self.focus_range = None
        self.focus_rate = 0.6
        self.local_rank = 0
        # contrastive terms (defaults as upstream; see spec §2.2 for the effective weights)
        self.do_self_contrast = False
        self.do_sup_contrast = False
        self.do_mask_loss = False
        self.do_early_stop = False
        self.mask_loss_weight = 1
        self.contrast_loss_weight = 0.5
        self.use_target_as_pos = False
        self.do_distill_loss = False
        self.do_distill_contrast = False
        self.distill_loss_weight = 0.1
        self.finetune_on_train_contrast = True
        self.do_cross_contrast = False
        self.cross_contrast_loss_weight = 0.5
        self.negative_mode = 'unpaired'
        self.fmri_channels = 292


class Config_Generative_Model:
    """Phase-3 LDM fine-tuning settings (stageB_ldm_finetune.py)."""

    def __init__(self):
        self.seed = 2022
        self.root_path = '.'
        self.kam_path = os.path.join(self.root_path, 'data/Kamitani/npz')
        self.bold5000_path = os.path.join(self.root_path, 'data/BOLD5000')
        self.roi = 'VC'
        self.patch_size = 16
        self.pretrain_gm_path = os.path.join(self.root_path, 'pretrains/ldm/label2img')
        self.dataset = 'GOD'
        self.kam_subs = ['sbj_3']
        self.bold5000_subs = ['CSI4']
        self.pretrain_mbm_path = os.path.join(self.root_path, f'pretrains/{self.dataset}/fmri_encoder.pth')
        self.img_size = 256
        self.batch_size = 5
        self.lr = 5.3e-5
        self.num_epoch = 500
        self.precision = 32
        self.accumulate_grad = 1
        self.crop_ratio = 0.2
        self.global_pool = False
        self.use_time_cond = True
        self.eval_avg = True
        self.num_samples = 5
        self.ddim_steps = 250
        self.HW = None
        self.model_meta = None
        self.checkpoint_path = None


for _cls in (Config_MAE_fMRI, Config_MBM_fMRI_contrast, Config_Generative_Model):
    _cls.__module__ = 'config'
_existing = sys.modules.setdefault('config', sys.modules[__name__])
if _existing is not sys.modules[__name__] and not hasattr(_existing, 'Config_Generative_Model'):
    raise ImportError("another top-level module named 'config' is loaded; cad_ref.config cannot alias it")
