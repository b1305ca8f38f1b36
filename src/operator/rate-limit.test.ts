import { describe, expect, it } from 'vitest';
import { RateLimiter } from './rate-limit.js';

describe('RateLimiter', () => {
  it('lets a burst through at once, then holds to the rate', async () => {
    const limiter = new RateLimiter({ qps: 20, burst: 5, concurrency: 100 });
    const started = Date.now();
    const at: number[] = [];
    await Promise.all(
      Array.from({ length: 15 }, () => limiter.run(async () => void at.push(Date.now() - started))),
    );
    const sorted = at.sort((a, b) => a - b);
    // The first five without waiting; the tenth more ten tokens later cannot come before 0.45 s.
    expect(sorted[4]).toBeLessThan(200);
    expect(sorted[14]).toBeGreaterThanOrEqual(450);
  });

  it('never has more calls in flight than its concurrency', async () => {
    const limiter = new RateLimiter({ qps: 1000, burst: 1000, concurrency: 3 });
    let running = 0;
    let peak = 0;
    await Promise.all(
      Array.from({ length: 20 }, () =>
        limiter.run(async () => {
          running += 1;
          peak = Math.max(peak, running);
          await new Promise((resolve) => setTimeout(resolve, 5));
          running -= 1;
        }),
      ),
    );
    expect(peak).toBe(3);
    expect(limiter.peakInFlight).toBe(3);
  });

  it('frees its slot when a call fails', async () => {
    const limiter = new RateLimiter({ qps: 1000, burst: 1000, concurrency: 1 });
    await expect(limiter.run(async () => Promise.reject(new Error('boom')))).rejects.toThrow(
      'boom',
    );
    await expect(limiter.run(async () => 'next')).resolves.toBe('next');
  });
});
