import type { Logger } from 'pino';

import { addressThrottleKey } from '../../application/auth/login-throttle.js';
import type { BurstCounter } from './burst-counter.js';
import type { SecurityEventSink } from './security-event.js';

/** When a client's blocks count as a burst. */
export interface BurstRule {
  /** A burst is more than this many blocks from one client IP within one window. */
  threshold: number;
  windowMs: number;
}

/** One block, as the detector counts it. */
export interface ObservedBlock {
  clientIp: string | null;
  source: string;
  ruleIds: readonly string[];
  requestId: string | null;
}

// A counter failure is logged at the first failure and then once per this many.
const FAILURE_LOG_EVERY = 1000;

/**
 * Raises one `block_burst` event, and one warning log line, when a client IP passes the
 * threshold within a window. Only the increment that takes the count from `threshold` to
 * `threshold + 1` raises it, so a window has at most one burst event per client, also across
 * processes that share a Redis counter. IPv6 clients are counted by their /64, like sign-in
 * lockouts, because one client usually controls a whole /64.
 *
 * While the shared counter fails, each process counts in its own `fallback` counter, so each
 * process may then raise its own event for the same client and window.
 */
export class BurstDetector {
  private failures = 0;

  constructor(
    private readonly rule: BurstRule,
    private readonly counter: BurstCounter,
    private readonly fallback: BurstCounter | null,
    private readonly sink: SecurityEventSink,
    private readonly logger: Logger,
  ) {}

  /** Counts `block`; never throws, so listeners may call it without awaiting. */
  async observe(block: ObservedBlock): Promise<void> {
    if (block.clientIp === null) return;
    const key = addressThrottleKey(block.clientIp);
    try {
      const { count, window } = await this.increment(key);
      if (count !== this.rule.threshold + 1) return;
      this.raise(block, key, window);
    } catch (error) {
      this.logger.error({ err: error }, 'burst detection failed');
    }
  }

  private async increment(key: string) {
    try {
      return await this.counter.increment(key, this.rule.windowMs);
    } catch (error) {
      if (!this.fallback) throw error;
      this.failures += 1;
      if (this.failures % FAILURE_LOG_EVERY === 1) {
        this.logger.error(
          { counter: this.counter.kind, failures: this.failures, reason: String(error) },
          'burst counter failed; counting in this process',
        );
      }
      return this.fallback.increment(key, this.rule.windowMs);
    }
  }

  private raise(block: ObservedBlock, key: string, window: number): void {
    const windowStart = new Date(window * this.rule.windowMs).toISOString();
    const windowSeconds = this.rule.windowMs / 1000;
    this.logger.warn(
      {
        clientIp: block.clientIp,
        counted: key,
        threshold: this.rule.threshold,
        windowSeconds,
        windowStart,
        source: block.source,
        rules: block.ruleIds,
      },
      'burst of blocked requests from one client',
    );
    this.sink.record({
      kind: 'block_burst',
      severity: 'high',
      source: block.source,
      clientIp: block.clientIp,
      ruleIds: block.ruleIds,
      requestId: block.requestId,
      details: {
        threshold: this.rule.threshold,
        windowSeconds,
        windowStart,
        countedAs: key,
      },
    });
  }
}
