// Configurations the benchmarks share (random weights; speed does not depend on the values).
import { PUBLISHED_GOD_SBJ3, type ModelConfig } from '../model/config';

/**
 * Mid-size configuration: 32×32 latent, 128 model channels, the published UNet's layout otherwise
 * (channel_mult [1,2,3,5], 2 res blocks, attention at downsample factors 8, 4, 2 → 16×16, 8×8, 4×4,
 * context 512); the published fMRI token count (4656 voxels, 291 tokens) with a narrower encoder
 * (512 wide, 8 blocks, not 1024 × 24); a VQ decoder to 128×128 (f = 4, ch 64, not 256×256 at ch 128).
 */
export const MID_CONFIG: ModelConfig = {
  ...PUBLISHED_GOD_SBJ3,
  name: 'bench-mid',
  description: 'bench:peers mid-size configuration (random weights)',
  encoder: { ...PUBLISHED_GOD_SBJ3.encoder, embedDim: 512, depth: 8, numHeads: 8 },
  unet: { ...PUBLISHED_GOD_SBJ3.unet, imageSize: 32, modelChannels: 128 },
  vq: { ...PUBLISHED_GOD_SBJ3.vq, resolution: 128, ch: 64 },
  preprocess: { ...PUBLISHED_GOD_SBJ3.preprocess, mean: 0, std: 1 },
};
