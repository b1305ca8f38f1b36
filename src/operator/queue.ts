/**
 * A work queue in the manner of client-go's: a key is queued at most once, a key being processed
 * is not handed to a second worker (it is queued again when it is done, if it changed meanwhile),
 * and failures come back after a per-key exponential backoff.
 */

/** How a queue retries. */
export interface QueueOptions {
  /** First retry delay (ms); doubles per consecutive failure of the key. */
  readonly baseDelayMs: number;
  /** Longest retry delay (ms). */
  readonly maxDelayMs: number;
}

export const DEFAULT_QUEUE_OPTIONS: QueueOptions = { baseDelayMs: 1_000, maxDelayMs: 300_000 };

export class WorkQueue {
  private readonly queue: string[] = [];
  private readonly queued = new Set<string>();
  private readonly processing = new Set<string>();
  /** Keys added while being processed: queued again when done. */
  private readonly dirty = new Set<string>();
  private readonly failures = new Map<string, number>();
  private readonly timers = new Map<string, { timer: NodeJS.Timeout; due: number }>();
  private readonly waiting: ((key: string | undefined) => void)[] = [];
  private closed = false;

  constructor(private readonly options: QueueOptions = DEFAULT_QUEUE_OPTIONS) {}

  /** Keys waiting or being processed. */
  get depth(): number {
    return this.queued.size + this.processing.size;
  }

  /** Queues a key now (no-op if it is already queued). */
  add(key: string): void {
    if (this.closed) return;
    if (this.processing.has(key)) {
      this.dirty.add(key);
      return;
    }
    if (this.queued.has(key)) return;
    this.queued.add(key);
    const waiter = this.waiting.shift();
    if (waiter !== undefined) {
      this.queued.delete(key);
      this.processing.add(key);
      waiter(key);
      return;
    }
    this.queue.push(key);
  }

  /** Queues a key after a delay (the shorter delay wins when one is already pending). */
  addAfter(key: string, delayMs: number): void {
    if (this.closed) return;
    if (delayMs <= 0) {
      this.add(key);
      return;
    }
    const due = Date.now() + delayMs;
    const existing = this.timers.get(key);
    if (existing !== undefined) {
      if (existing.due <= due) return;
      clearTimeout(existing.timer);
    }
    const timer = setTimeout(() => {
      this.timers.delete(key);
      this.add(key);
    }, delayMs);
    timer.unref();
    this.timers.set(key, { timer, due });
  }

  /** Queues a key again after its backoff; returns the delay. */
  retry(key: string): number {
    const n = (this.failures.get(key) ?? 0) + 1;
    this.failures.set(key, n);
    const delay = Math.min(this.options.maxDelayMs, this.options.baseDelayMs * 2 ** (n - 1));
    this.addAfter(key, delay);
    return delay;
  }

  /** Forgets a key's failures (after a success, or a terminal error). */
  forget(key: string): void {
    this.failures.delete(key);
  }

  /** Consecutive failures of a key. */
  failuresOf(key: string): number {
    return this.failures.get(key) ?? 0;
  }

  /** The next key to process; undefined once the queue is shut down. */
  async next(): Promise<string | undefined> {
    if (this.closed) return undefined;
    const key = this.queue.shift();
    if (key !== undefined) {
      this.queued.delete(key);
      this.processing.add(key);
      return key;
    }
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  /** Marks a key processed; queues it again if it was added meanwhile. */
  done(key: string): void {
    this.processing.delete(key);
    if (this.dirty.delete(key)) this.add(key);
  }

  /** Stops handing out keys; pending `next()` calls resolve with undefined. */
  shutdown(): void {
    this.closed = true;
    for (const { timer } of this.timers.values()) clearTimeout(timer);
    this.timers.clear();
    for (const waiter of this.waiting.splice(0)) waiter(undefined);
  }
}
