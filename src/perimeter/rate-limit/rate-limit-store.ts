import type { WindowCounts, WindowRule } from './sliding-window.js';

/**
 * Storage of sliding window counters. `consume` checks and adds in one atomic step, so
 * parallel requests cannot all pass on the same remaining count.
 */
export interface RateLimitStore {
  readonly kind: 'redis' | 'memory';
  /**
   * Adds `cost` units to the key's current window when the weighted count plus `cost` stays
   * within the rule's limit, and returns the counts read before the addition.
   */
  consume(rule: WindowRule, key: string, cost: number): Promise<WindowCounts>;
  /**
   * Adds `delta` units (negative to refund) to the window `window` of the key, flooring the
   * count at 0. Nothing changes once that window no longer counts toward the sliding window.
   */
  adjust(rule: WindowRule, key: string, window: number, delta: number): Promise<void>;
  /** Releases what the store holds, such as timers and units leased ahead. */
  close?(): Promise<void>;
}
