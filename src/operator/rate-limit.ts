/**
 * What the operator may ask of the API server: a token bucket (`qps` a second, `burst` at once),
 * as client-go's rest client limits every client (controller-runtime's defaults: 20 QPS, burst
 * 30), and at most `concurrency` writes in flight across all workers, so that ten thousand objects
 * to update do not flood API Priority and Fairness.
 */
export interface RateLimitOptions {
  readonly qps: number;
  readonly burst: number;
  readonly concurrency: number;
}

/** controller-runtime's client defaults, and the operator's write concurrency. */
export const DEFAULT_RATE_LIMIT: RateLimitOptions = { qps: 20, burst: 30, concurrency: 8 };

/** A token bucket with a bound on calls in flight. */
export class RateLimiter {
  private tokens: number;
  private refilled = Date.now();
  private inFlight = 0;
  private readonly waiting: (() => void)[] = [];
  /** The most calls that were in flight at once (for tests and metrics). */
  peakInFlight = 0;

  constructor(private readonly options: RateLimitOptions = DEFAULT_RATE_LIMIT) {
    this.tokens = options.burst;
  }

  /** Runs `call` once a token and a slot are free. */
  async run<T>(call: () => Promise<T>): Promise<T> {
    await this.slot();
    try {
      await this.token();
      return await call();
    } finally {
      this.inFlight -= 1;
      this.waiting.shift()?.();
    }
  }

  private async slot(): Promise<void> {
    while (this.inFlight >= this.options.concurrency) {
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    }
    this.inFlight += 1;
    this.peakInFlight = Math.max(this.peakInFlight, this.inFlight);
  }

  private async token(): Promise<void> {
    for (;;) {
      const now = Date.now();
      this.tokens = Math.min(
        this.options.burst,
        this.tokens + ((now - this.refilled) / 1000) * this.options.qps,
      );
      this.refilled = now;
      if (this.tokens >= 1) {
        this.tokens -= 1;
        return;
      }
      const waitMs = Math.ceil(((1 - this.tokens) / this.options.qps) * 1000);
      await new Promise((resolve) => setTimeout(resolve, waitMs));
    }
  }
}
