import type { RateLimitStore } from './rate-limit-store.js';
import type { LimitCheck, RateLimiter } from './rate-limiter.js';
import type { WindowRule } from './sliding-window.js';

interface ReservedPart {
  store: RateLimitStore;
  window: number;
  amount: number;
}

/**
 * Tokens held against a key's token limit for one gateway call. The call reserves its worst
 * case before going upstream, a stream may extend the reservation as the provider reports
 * usage, and `settle` replaces the reserved amount with the tokens the call really used.
 */
export class TokenReservation {
  private readonly parts: ReservedPart[] = [];
  private settled = false;

  constructor(
    private readonly limiter: RateLimiter,
    private readonly rule: WindowRule,
    private readonly key: string,
  ) {}

  /** Tokens reserved so far. */
  get granted(): number {
    return this.parts.reduce((sum, part) => sum + part.amount, 0);
  }

  /**
   * Reserves more tokens so that `total` are held. Returns the check that decided, which is
   * `disabled` when nothing more was needed or the limit is off.
   */
  async ensure(total: number): Promise<LimitCheck> {
    const missing = total - this.granted;
    if (missing <= 0 || this.rule.limit === 0) return { kind: 'disabled' };
    const check = await this.limiter.check(this.rule, this.key, missing);
    if (check.kind === 'decided' && check.decision.allowed) {
      this.parts.push({ store: check.store, window: check.window, amount: missing });
    }
    return check;
  }

  /** Reserves up to `total` tokens and resolves true when they are held (a stream's budget). */
  async extend(total: number): Promise<boolean> {
    const check = await this.ensure(total);
    return check.kind === 'disabled' || (check.kind === 'decided' && check.decision.allowed);
  }

  /**
   * Replaces the reservation with `usedTokens`: the difference is refunded from the most
   * recent reservations first, or charged to the latest one when the call used more.
   * A second call does nothing.
   */
  async settle(usedTokens: number): Promise<void> {
    if (this.settled) return;
    this.settled = true;
    let delta = usedTokens - this.granted;
    const latest = this.parts.at(-1);
    if (!latest || delta === 0) return;
    if (delta > 0) {
      await this.limiter.adjust(latest.store, this.rule, this.key, latest.window, delta);
      return;
    }
    for (const part of [...this.parts].reverse()) {
      if (delta === 0) break;
      const refund = Math.min(part.amount, -delta);
      await this.limiter.adjust(part.store, this.rule, this.key, part.window, -refund);
      delta += refund;
    }
  }
}
