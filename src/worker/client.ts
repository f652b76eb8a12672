// Main-thread side of the engine worker: typed RPC calls and an event stream.
import type { EngineError, EngineEvent, OpArgs, OpName, OpResult, Request, WorkerMessage } from '../engine/protocol';
import { isEvent } from '../engine/protocol';
import { StudioError } from '../errors';

/** A rejected engine call: carries the worker's structured error. */
export class EngineCallError extends StudioError {
  constructor(readonly error: EngineError) {
    super(error.code, error.message);
  }
}

/** The parts of a Worker the client uses (a fake in tests). */
export type WorkerLike = Pick<Worker, 'postMessage' | 'terminate' | 'onmessage' | 'onerror' | 'onmessageerror'>;

export class EngineClient {
  private nextId = 1;
  private pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: EngineCallError) => void }>();
  /** Set once the worker has crashed: no answer will come, so every call fails at once. */
  private crashed: EngineError | null = null;

  constructor(
    private readonly worker: WorkerLike,
    onEvent: (e: EngineEvent) => void,
    onCrash: (e: EngineError) => void = () => undefined,
  ) {
    worker.onmessage = (ev: MessageEvent<WorkerMessage>) => {
      const m = ev.data;
      if (isEvent(m)) {
        onEvent(m);
        return;
      }
      const p = this.pending.get(m.id);
      if (!p) return;
      this.pending.delete(m.id);
      if (m.ok) p.resolve(m.result);
      else p.reject(new EngineCallError(m.error));
    };
    const fail = (detail: string) => {
      if (this.crashed) return;
      this.crashed = { code: 'EngineCrashed', message: 'engine crashed — reload the page', detail };
      // Its state (model, run) is unknown now: stop it rather than talk to it again.
      worker.terminate();
      for (const p of this.pending.values()) p.reject(new EngineCallError(this.crashed));
      this.pending.clear();
      onCrash(this.crashed);
    };
    worker.onerror = (ev) => {
      ev.preventDefault();
      fail(ev.message || 'the engine worker failed to start or threw outside a request');
    };
    worker.onmessageerror = () => fail('a message from the engine worker could not be deserialised');
  }

  call<K extends OpName>(op: K, args: OpArgs<K>, transfer: Transferable[] = []): Promise<OpResult<K>> {
    if (this.crashed) return Promise.reject(new EngineCallError(this.crashed));
    const id = this.nextId++;
    return new Promise<OpResult<K>>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.worker.postMessage({ id, op, args } as Request, transfer);
    });
  }
}

export function asEngineError(e: unknown): EngineError {
  if (e instanceof EngineCallError) return e.error;
  if (e instanceof Error) return { code: e.name || 'Error', message: e.message };
  return { code: 'Error', message: String(e) };
}
