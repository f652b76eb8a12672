// Errors of the offline converter: unreadable checkpoints and checkpoints that do not map onto a model.
import { StudioError, errorClass } from '../errors';
export class CheckpointError extends StudioError {
  constructor(
    readonly file: string,
    detail: string,
  ) {
    super('CheckpointError', `${file}: ${detail}`);
  }
}

/** Conversion of checkpoints into a bundle failed (missing, extra or mis-shaped tensors, bad config). */
export class ConvertError extends errorClass('ConvertError') {}
