import { describe, expect, it } from 'vitest';
import type { EngineError, Request } from '../engine/protocol';
import { EngineCallError, EngineClient, type WorkerLike } from './client';

/** A worker that records requests and never answers unless told to. */
function fakeWorker() {
  const sent: Request[] = [];
  let terminated = false;
  const w = {
    onmessage: null,
    onerror: null,
    onmessageerror: null,
    postMessage: (m: Request) => {
      sent.push(m);
    },
    terminate: () => {
      terminated = true;
    },
  } as unknown as WorkerLike;
  return { w, sent, terminated: () => terminated };
}

describe('EngineClient', () => {
  it('answers calls by id and passes events through', async () => {
    const { w, sent } = fakeWorker();
    const events: unknown[] = [];
    const client = new EngineClient(w, (e) => events.push(e));
    const p = client.call('listSaved', {});
    w.onmessage!.call(w as Worker, { data: { event: 'loadProgress', done: 1, total: 2 } } as MessageEvent);
    w.onmessage!.call(w as Worker, { data: { id: sent[0].id, ok: true, result: [] } } as MessageEvent);
    await expect(p).resolves.toEqual([]);
    expect(events).toEqual([{ event: 'loadProgress', done: 1, total: 2 }]);
  });

  it('after a crash rejects pending and later calls at once, and says so once', async () => {
    const { w, sent, terminated } = fakeWorker();
    const crashes: EngineError[] = [];
    const client = new EngineClient(
      w,
      () => undefined,
      (e) => crashes.push(e),
    );
    const pending = client.call('listSaved', {});
    const ev = { message: 'Uncaught RangeError: Array buffer allocation failed', preventDefault: () => undefined } as ErrorEvent;
    w.onerror!.call(w as Worker, ev);
    await expect(pending).rejects.toBeInstanceOf(EngineCallError);
    await expect(pending).rejects.toMatchObject({ error: { code: 'EngineCrashed', message: 'engine crashed — reload the page' } });
    await expect(client.call('listSaved', {})).rejects.toMatchObject({ error: { code: 'EngineCrashed', detail: ev.message } });
    expect(sent).toHaveLength(1);
    expect(terminated()).toBe(true);
    w.onerror!.call(w as Worker, ev);
    expect(crashes).toHaveLength(1);
  });
});
