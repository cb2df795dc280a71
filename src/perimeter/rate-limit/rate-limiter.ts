import type { Logger } from 'pino';

import type { Config } from '../../config/config.schema.js';
import type { RateLimitStore } from './rate-limit-store.js';
import { decide, type RateLimitDecision, type WindowRule } from './sliding-window.js';

/** What a rate-limited route does while the shared store (Redis) is unreachable. */
export type StoreFailureMode = 'open' | 'closed';

/** The result of one check: a decision, or `unavailable` when no store could decide. */
export type LimitCheck =
  | { kind: 'decided'; decision: RateLimitDecision; window: number; store: RateLimitStore }
  | { kind: 'disabled' }
  | { kind: 'unavailable' };

/** The limits MindWeave applies; a rule with limit 0 is disabled. */
export interface RateLimitRules {
  perIp: WindowRule;
  auth: WindowRule;
  keyRequests: WindowRule;
  keyTokens: WindowRule;
}

/** Reads the rules from the configuration. */
export function rateLimitRules(config: Config): RateLimitRules {
  return {
    perIp: {
      name: 'ip',
      limit: config.RATE_LIMIT_IP_MAX,
      windowMs: config.RATE_LIMIT_IP_WINDOW_SECONDS * 1000,
    },
    auth: {
      name: 'auth',
      limit: config.RATE_LIMIT_AUTH_MAX,
      windowMs: config.RATE_LIMIT_AUTH_WINDOW_SECONDS * 1000,
    },
    keyRequests: {
      name: 'key',
      limit: config.RATE_LIMIT_KEY_MAX,
      windowMs: config.RATE_LIMIT_KEY_WINDOW_SECONDS * 1000,
    },
    keyTokens: {
      name: 'tokens',
      limit: config.RATE_LIMIT_KEY_TOKENS,
      windowMs: config.RATE_LIMIT_KEY_TOKEN_WINDOW_SECONDS * 1000,
    },
  };
}

// A store failure is logged once per this many failures, so an outage does not flood the log.
const FAILURE_LOG_EVERY = 1000;

/**
 * Applies rate-limit rules against a store. When the store throws (Redis unreachable), a
 * check marked `failClosed` returns `unavailable`. Other checks follow the failure mode:
 * `closed` returns `unavailable`, and `open` decides on the per-process fallback store, so
 * each process still enforces the limits on its own traffic.
 */
export class RateLimiter {
  private storeFailures = 0;

  constructor(
    readonly rules: RateLimitRules,
    private readonly store: RateLimitStore,
    private readonly fallback: RateLimitStore | null,
    private readonly failureMode: StoreFailureMode,
    private readonly logger: Logger,
  ) {}

  /** Name of the primary store, for logs and health output. */
  get storeKind(): RateLimitStore['kind'] {
    return this.store.kind;
  }

  /** Closes the store, which gives units leased ahead back to Redis. */
  async close(): Promise<void> {
    await this.store.close?.();
  }

  /** Checks `cost` units of `rule` for `key` and counts them when they fit. */
  async check(
    rule: WindowRule,
    key: string,
    cost = 1,
    options: { failClosed?: boolean } = {},
  ): Promise<LimitCheck> {
    if (rule.limit === 0) return { kind: 'disabled' };
    try {
      return await this.checkIn(this.store, rule, key, cost);
    } catch (error) {
      this.logStoreFailure(error, rule);
      if (options.failClosed || this.failureMode === 'closed' || !this.fallback) {
        return { kind: 'unavailable' };
      }
      return this.checkIn(this.fallback, rule, key, cost);
    }
  }

  /** Adds `delta` units to the window a previous check counted in; failures are logged only. */
  async adjust(
    store: RateLimitStore,
    rule: WindowRule,
    key: string,
    window: number,
    delta: number,
  ): Promise<void> {
    if (delta === 0) return;
    try {
      await store.adjust(rule, key, window, delta);
    } catch (error) {
      this.logStoreFailure(error, rule);
    }
  }

  private async checkIn(
    store: RateLimitStore,
    rule: WindowRule,
    key: string,
    cost: number,
  ): Promise<LimitCheck> {
    const counts = await store.consume(rule, key, cost);
    return { kind: 'decided', decision: decide(counts, rule, cost), window: counts.window, store };
  }

  private logStoreFailure(error: unknown, rule: WindowRule): void {
    this.storeFailures += 1;
    if (this.storeFailures % FAILURE_LOG_EVERY !== 1) return;
    this.logger.error(
      {
        rule: rule.name,
        store: this.store.kind,
        failureMode: this.failureMode,
        failures: this.storeFailures,
        reason: error instanceof Error ? error.message : String(error),
      },
      'rate-limit store failed',
    );
  }
}
