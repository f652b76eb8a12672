// Pause / resume / single-step / cancel for a sampler loop that awaits `next()` between steps.
import { StudioError } from '../errors';

export class RunCancelled extends StudioError {
  constructor() {
    super('RunCancelled', 'run cancelled');
  }
}

export class RunGate {
  readonly abort = new AbortController();
  private paused = false;
  /** Steps granted while paused (Step button). */
  private credits = 0;
  private wake: (() => void) | null = null;

  get isPaused(): boolean {
    return this.paused;
  }

  pause(): void {
    this.paused = true;
  }

  resume(): void {
    this.paused = false;
    this.release();
  }

  /** While paused, let exactly one more step run. */
  step(): void {
    if (!this.paused) return;
    this.credits++;
    this.release();
  }

  cancel(): void {
    this.abort.abort(new RunCancelled());
    this.release();
  }

  /**
   * Resolves when the next step may run; throws RunCancelled once cancelled. Always yields one macrotask
   * first: on WebAssembly a step's reads resolve as microtasks only, so without it the worker never gets to
   * the Pause/Cancel messages that arrive during a run.
   */
  async beforeStep(): Promise<void> {
    await yieldToEventLoop();
    for (;;) {
      if (this.abort.signal.aborted) throw new RunCancelled();
      if (!this.paused) return;
      if (this.credits > 0) {
        this.credits--;
        return;
      }
      await new Promise<void>((resolve) => {
        this.wake = resolve;
      });
    }
  }

  private release(): void {
    const w = this.wake;
    this.wake = null;
    w?.();
  }
}

/** One macrotask turn (MessageChannel: no setTimeout clamping), so queued messages are handled. */
export function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => {
    const ch = new MessageChannel();
    ch.port1.onmessage = () => {
      ch.port1.close();
      resolve();
    };
    ch.port2.postMessage(null);
  });
}
