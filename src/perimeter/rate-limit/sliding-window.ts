/**
 * Sliding window counter: each key keeps one count per fixed window, and a request is judged
 * on the current window's count plus the previous window's count weighted by how much of the
 * previous window still overlaps the sliding one. Both stores use this arithmetic, so a
 * decision is the same whether Redis or process memory holds the counts.
 */

/** One limit: at most `limit` units (requests or tokens) per `windowMs`. */
export interface WindowRule {
  /** Stable name, part of the storage key. */
  name: string;
  limit: number;
  windowMs: number;
}

/** The counts a store read for a key, before the current request was added. */
export interface WindowCounts {
  allowed: boolean;
  current: number;
  previous: number;
  /** Milliseconds since the current fixed window started. */
  elapsedMs: number;
  /** Index of the current fixed window (start time divided by the window length). */
  window: number;
}

/** The outcome of one rate-limit check, with the values of the RateLimit-* headers. */
export interface RateLimitDecision {
  allowed: boolean;
  limit: number;
  /** Units left in the window after this request. */
  remaining: number;
  /** Seconds until the current fixed window ends (allowed) or until a retry can pass. */
  resetSeconds: number;
  /** Seconds to wait before the same request can pass; 0 when allowed. */
  retryAfterSeconds: number;
}

/** Returns the weighted number of units in the sliding window ending now. */
export function weightedCount(counts: WindowCounts, windowMs: number): number {
  const overlap = (windowMs - counts.elapsedMs) / windowMs;
  return counts.previous * overlap + counts.current;
}

/**
 * Returns the milliseconds until `cost` more units fit under `limit`, given no further
 * traffic. A cost above the limit never fits, so a full window is returned.
 */
function msUntilFits(counts: WindowCounts, rule: WindowRule, cost: number): number {
  const { windowMs, limit } = rule;
  if (cost > limit) return windowMs;
  const room = limit - cost;
  if (counts.current <= room) {
    // Only the previous window's share has to shrink: previous * (W - e) / W <= room - current.
    if (counts.previous === 0) return 0;
    const elapsedNeeded = windowMs * (1 - (room - counts.current) / counts.previous);
    return Math.max(0, elapsedNeeded - counts.elapsedMs);
  }
  // The current window alone is over, so wait for it to become the previous one and decay.
  const elapsedNeeded = windowMs * (1 - room / counts.current);
  return windowMs - counts.elapsedMs + Math.max(0, elapsedNeeded);
}

/** Builds the decision for a check of `cost` units from the counts the store read. */
export function decide(counts: WindowCounts, rule: WindowRule, cost: number): RateLimitDecision {
  const used = weightedCount(counts, rule.windowMs);
  const windowEndSeconds = Math.max(1, Math.ceil((rule.windowMs - counts.elapsedMs) / 1000));
  if (counts.allowed) {
    return {
      allowed: true,
      limit: rule.limit,
      remaining: Math.max(0, Math.floor(rule.limit - used - cost)),
      resetSeconds: windowEndSeconds,
      retryAfterSeconds: 0,
    };
  }
  const retryAfterSeconds = Math.max(1, Math.ceil(msUntilFits(counts, rule, cost) / 1000));
  return {
    allowed: false,
    limit: rule.limit,
    remaining: Math.max(0, Math.floor(rule.limit - used)),
    resetSeconds: retryAfterSeconds,
    retryAfterSeconds,
  };
}
