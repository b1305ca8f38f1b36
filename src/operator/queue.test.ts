import { describe, expect, it } from 'vitest';
import { WorkQueue } from './queue.js';

describe('WorkQueue', () => {
  it('queues a key once, and hands a key being processed to no second worker', async () => {
    const q = new WorkQueue({ baseDelayMs: 10, maxDelayMs: 40 });
    q.add('a');
    q.add('a');
    q.add('b');
    expect(q.depth).toBe(2);
    const first = await q.next();
    expect(first).toBe('a');
    q.add('a'); // changed while processing: comes back after done(), not to a second worker
    expect(await q.next()).toBe('b');
    let handed: string | undefined = 'none';
    const waiting = q.next().then((k) => (handed = k));
    await new Promise((resolve) => setTimeout(resolve, 5));
    expect(handed).toBe('none');
    q.done('a');
    await waiting;
    expect(handed).toBe('a');
  });

  it('retries with an exponential, capped backoff, and forgets after a success', async () => {
    const q = new WorkQueue({ baseDelayMs: 10, maxDelayMs: 40 });
    expect([q.retry('k'), q.retry('k'), q.retry('k'), q.retry('k')]).toEqual([10, 20, 40, 40]);
    expect(q.failuresOf('k')).toBe(4);
    // The first pending retry (10 ms) wins over the later ones.
    const started = Date.now();
    expect(await q.next()).toBe('k');
    expect(Date.now() - started).toBeLessThan(35);
    q.forget('k');
    expect(q.failuresOf('k')).toBe(0);
    expect(q.retry('k')).toBe(10);
  });

  it('releases waiting workers on shutdown', async () => {
    const q = new WorkQueue();
    const waiting = q.next();
    q.shutdown();
    expect(await waiting).toBeUndefined();
    q.add('late');
    expect(q.depth).toBe(0);
  });
});
