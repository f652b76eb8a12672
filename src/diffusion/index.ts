// Noise schedule, seeded noise and the step iterators of the two samplers.
export { makeSchedule, uniformTimesteps, trailingTimesteps, ddimTimesteps, stepSpacing, uniformFits, stepCoefficients, SamplerOptionsError, type Schedule, type StepCoefficients, type StepSpacing } from './schedule';
export { gaussian, Xoshiro128ss } from './rng';
export { ddimUpdate, type EpsFn, type Sampler, type SamplerOptions, type SamplerStep } from './sampler';
export { plmsSampler, type PlmsOptions } from './plms';
export { ddimSampler, type DdimOptions } from './ddim';
export { guidedEps, type ApplyModel } from './guidance';
export { img2imgStartIndex, runTimesteps } from './schedule';
export { noisedInit } from './sampler';
