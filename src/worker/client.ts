// Main-thread side of the engine worker: typed RPC calls and an event stream.
import type { EngineError, EngineEvent, OpArgs, OpName, OpResult, Request, WorkerMessage } from '../engine/protocol';
import { isEvent } from '../engine/protocol';

/** A rejected engine call: carries the worker's structured error. */
export class EngineCallError extends Error {
  constructor(readonly error: EngineError) {
    super(error.message);
    this.name = error.code;
  }
}

export class EngineClient {
  private nextId = 1;
  private pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: EngineCallError) => void }>();

  constructor(private readonly worker: Worker, onEvent: (e: EngineEvent) => void) {
    worker.onmessage = (ev: MessageEvent<WorkerMessage>) => {
      const m = ev.data;
      if (isEvent(m)) { onEvent(m); return; }
      const p = this.pending.get(m.id);
      if (!p) return;
      this.pending.delete(m.id);
      if (m.ok) p.resolve(m.result); else p.reject(new EngineCallError(m.error));
    };
    worker.onerror = (ev) => {
      const error = { code: 'WorkerError', message: ev.message || 'the engine worker failed to start' };
      for (const p of this.pending.values()) p.reject(new EngineCallError(error));
      this.pending.clear();
    };
  }

  call<K extends OpName>(op: K, args: OpArgs<K>, transfer: Transferable[] = []): Promise<OpResult<K>> {
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
