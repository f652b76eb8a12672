// The one base of every error this project throws on purpose. `code` is the error's class name, written out
// because bundlers rename classes; it is what the worker sends to the studio (EngineError.code), what the UI and
// the CLIs print before the message, and what tests match. src/errors.test.ts checks that every error class in
// src/ derives from StudioError and that its code is its own name.

export class StudioError extends Error {
  constructor(
    readonly code: string,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = code;
  }
}

/**
 * A StudioError class whose code is `code`, for errors that carry only a message; `prefix` goes before every
 * message (e.g. 'vq: '). Use as `export class VQInputError extends errorClass('VQInputError', 'vq: ') {}`.
 */
export function errorClass(code: string, prefix = '') {
  return class extends StudioError {
    constructor(message: string, options?: ErrorOptions) {
      super(code, prefix + message, options);
    }
  };
}
