import { describe, expect, it } from 'vitest';
import { RunCancelled, RunGate } from './runGate';

const tick = () => new Promise((r) => setTimeout(r, 0));

describe('RunGate', () => {
  it('runs freely, blocks while paused, steps one at a time, resumes', async () => {
    const gate = new RunGate();
    await gate.beforeStep();
    gate.pause();
    let passed = 0;
    const loop = (async () => {
      for (let i = 0; i < 3; i++) {
        await gate.beforeStep();
        passed++;
      }
    })();
    await tick();
    expect(passed).toBe(0);
    gate.step();
    await tick();
    expect(passed).toBe(1);
    await tick();
    expect(passed).toBe(1);
    gate.resume();
    await loop;
    expect(passed).toBe(3);
  });

  it('cancel wakes a paused loop with RunCancelled and aborts the signal', async () => {
    const gate = new RunGate();
    gate.pause();
    const waiting = gate.beforeStep();
    gate.cancel();
    await expect(waiting).rejects.toBeInstanceOf(RunCancelled);
    expect(gate.abort.signal.aborted).toBe(true);
    await expect(gate.beforeStep()).rejects.toBeInstanceOf(RunCancelled);
  });

  it('step without pause is a no-op', async () => {
    const gate = new RunGate();
    gate.step();
    gate.pause();
    let passed = false;
    const waiting = gate.beforeStep().then(() => {
      passed = true;
    });
    await tick();
    expect(passed).toBe(false);
    gate.cancel();
    await expect(waiting).rejects.toBeInstanceOf(RunCancelled);
  });
});

describe('RunGate on microtask-only steps (WebAssembly)', () => {
  it('sees a cancel that arrives as a message while the steps never wait for a macrotask', async () => {
    const gate = new RunGate();
    let steps = 0;
    // A message (a macrotask) that cancels; the "steps" below resolve as microtasks only, like tfjs-wasm reads.
    setTimeout(() => gate.cancel(), 0);
    const loop = (async () => {
      for (;;) {
        await gate.beforeStep();
        await Promise.resolve();
        steps++;
        if (steps > 1000) return 'never cancelled';
      }
    })();
    await expect(loop).rejects.toBeInstanceOf(RunCancelled);
    expect(steps).toBeLessThan(50);
  });
});
