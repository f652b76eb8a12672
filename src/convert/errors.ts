// Errors of the offline converter: unreadable checkpoints and checkpoints that do not map onto a model.
export class CheckpointError extends Error {
  constructor(readonly file: string, detail: string) {
    super(`${file}: ${detail}`);
    this.name = 'CheckpointError';
  }
}

/** Conversion of checkpoints into a bundle failed (missing, extra or mis-shaped tensors, bad config). */
export class ConvertError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConvertError';
  }
}
