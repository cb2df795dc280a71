import { createHash, randomUUID } from 'node:crypto';
import { isIPv4, isIPv6 } from 'node:net';

import type { Redis } from 'ioredis';

import { AppError } from '../../http/errors.js';
import type { LoginThrottleKeyHash } from './login-throttle-key.js';

/** The target a failed attempt is counted against. */
export type ThrottleScope = 'account' | 'ip';

/** One counter: failures since the last lockout, lockouts so far, and the end of the lockout. */
interface CounterState {
  failures: number;
  lockouts: number;
  lockedUntil: number;
  expiresAt: number;
}

/** The rules one scope is counted by. */
export interface ThrottleRule {
  failureLimit: number;
  baseMs: number;
  maxMs: number;
}

/** The result of recording a failure: the lockout it started, if it reached the limit. */
export interface FailureOutcome {
  /** Length of the lockout this failure started, or 0 when it started none. */
  lockedForMs: number;
  lockouts: number;
}

/**
 * Retention of a counter: it is forgotten this long after its last failure or the end of its
 * lockout, whichever is later, so lockouts double only while failures keep coming.
 */
export const COUNTER_RETENTION_MS = 24 * 60 * 60 * 1000;

/** Counts failed sign-ins and locks an account or an IP address after too many. */
export interface LoginThrottle {
  /** Milliseconds until the key is unlocked, or 0 when it is not locked. */
  lockedForMs(scope: ThrottleScope, key: string, now: number): Promise<number>;
  recordFailure(
    scope: ThrottleScope,
    key: string,
    rule: ThrottleRule,
    now: number,
  ): Promise<FailureOutcome>;
  /** Forgets the counter, after a successful sign-in of that account. */
  reset(scope: ThrottleScope, key: string): Promise<void>;
  /**
   * Claims the only in-flight attempt of an account for at most `ttlMs`, so that concurrent
   * guesses cannot all pass the lockout check before the first failure is counted. Returns a
   * claim to release, or null while another attempt holds it.
   */
  claimAttempt(key: string, ttlMs: number, now: number): Promise<string | null>;
  /** Ends a claim from `claimAttempt`; a claim that expired and was taken over is left alone. */
  releaseAttempt(key: string, claim: string): Promise<void>;
}

/**
 * Returns the key of an account counter: SHA-256 of the lower-case email. Process memory keeps
 * it as is, and Redis only under an HMAC of it (see {@link RedisLoginThrottle}).
 */
export function accountThrottleKey(email: string): string {
  return createHash('sha256').update(email.toLowerCase(), 'utf8').digest('base64url');
}

/**
 * Returns the key of an address counter. An IPv6 client usually controls a whole /64, so IPv6
 * addresses are counted by their first 64 bits, and IPv4-mapped IPv6 addresses as IPv4.
 */
export function addressThrottleKey(ip: string | null): string {
  if (!ip) return 'unknown';
  const address = ip.split('%')[0] ?? ip;
  if (!isIPv6(address)) return address;
  const mappedPrefix = '::ffff:';
  if (
    address.toLowerCase().startsWith(mappedPrefix) &&
    isIPv4(address.slice(mappedPrefix.length))
  ) {
    return address.slice(mappedPrefix.length);
  }

  const [head = '', tail] = address.split('::');
  const toGroups = (part: string) => (part === '' ? [] : part.split(':'));
  let groups = toGroups(head);
  if (tail !== undefined) {
    const tailGroups = toGroups(tail);
    const missing = 8 - groups.length - tailGroups.length;
    groups = [...groups, ...Array<string>(Math.max(0, missing)).fill('0'), ...tailGroups];
  }
  const prefix = groups.slice(0, 4).map((group) => Number.parseInt(group, 16).toString(16));
  return `${prefix.join(':')}::/64`;
}

function lockoutLength(rule: ThrottleRule, lockouts: number): number {
  return Math.min(rule.maxMs, rule.baseMs * 2 ** Math.min(lockouts - 1, 30));
}

const MAX_MEMORY_COUNTERS = 100_000;

/** Counters in process memory, for a single server without Redis. */
export class MemoryLoginThrottle implements LoginThrottle {
  private readonly counters = new Map<string, CounterState>();
  private readonly claims = new Map<string, { claim: string; expiresAt: number }>();

  async claimAttempt(key: string, ttlMs: number, now: number): Promise<string | null> {
    const current = this.claims.get(key);
    if (current && current.expiresAt > now) return null;
    const claim = randomUUID();
    this.claims.set(key, { claim, expiresAt: now + ttlMs });
    return claim;
  }

  async releaseAttempt(key: string, claim: string): Promise<void> {
    if (this.claims.get(key)?.claim === claim) this.claims.delete(key);
  }

  async lockedForMs(scope: ThrottleScope, key: string, now: number): Promise<number> {
    const state = this.live(`${scope}:${key}`, now);
    return state ? Math.max(0, state.lockedUntil - now) : 0;
  }

  async recordFailure(
    scope: ThrottleScope,
    key: string,
    rule: ThrottleRule,
    now: number,
  ): Promise<FailureOutcome> {
    const id = `${scope}:${key}`;
    const state = this.live(id, now) ?? { failures: 0, lockouts: 0, lockedUntil: 0, expiresAt: 0 };
    state.failures += 1;
    let lockedForMs = 0;
    if (state.failures >= rule.failureLimit) {
      state.lockouts += 1;
      state.failures = 0;
      lockedForMs = lockoutLength(rule, state.lockouts);
      state.lockedUntil = now + lockedForMs;
    }
    state.expiresAt = Math.max(now, state.lockedUntil) + COUNTER_RETENTION_MS;
    // Re-inserting keeps the map in order of last failure, so eviction drops the stalest.
    this.counters.delete(id);
    this.counters.set(id, state);
    this.evict();
    return { lockedForMs, lockouts: state.lockouts };
  }

  async reset(scope: ThrottleScope, key: string): Promise<void> {
    this.counters.delete(`${scope}:${key}`);
  }

  private live(id: string, now: number): CounterState | undefined {
    const state = this.counters.get(id);
    if (state && state.expiresAt <= now) {
      this.counters.delete(id);
      return undefined;
    }
    return state;
  }

  // NOTE: a flood of distinct emails or addresses evicts the oldest counters once the map holds
  // 100,000, which can end a lockout early. Redis-backed counters have no such bound.
  private evict(): void {
    while (this.counters.size > MAX_MEMORY_COUNTERS) {
      const oldest = this.counters.keys().next().value;
      if (oldest === undefined) return;
      this.counters.delete(oldest);
    }
  }
}

// Runs atomically in Redis, so concurrent failures from several servers are all counted.
// KEYS[1] is the counter hash; ARGV: failure limit, now, base ms, max ms, retention ms.
const RECORD_FAILURE_SCRIPT = `
local failures = redis.call('HINCRBY', KEYS[1], 'f', 1)
local limit = tonumber(ARGV[1])
local now = tonumber(ARGV[2])
local lockedUntil = tonumber(redis.call('HGET', KEYS[1], 'u') or '0')
local lockouts = tonumber(redis.call('HGET', KEYS[1], 'l') or '0')
local lockedFor = 0
if failures >= limit then
  lockouts = redis.call('HINCRBY', KEYS[1], 'l', 1)
  local exponent = math.min(lockouts - 1, 30)
  lockedFor = math.min(tonumber(ARGV[4]), tonumber(ARGV[3]) * (2 ^ exponent))
  lockedUntil = now + lockedFor
  redis.call('HSET', KEYS[1], 'f', 0, 'u', string.format('%.0f', lockedUntil))
end
redis.call('PEXPIRE', KEYS[1], math.max(now, lockedUntil) - now + tonumber(ARGV[5]))
return {lockedFor, lockouts}
`;

// Deletes an attempt claim only when its value is still the caller's claim.
const RELEASE_CLAIM_SCRIPT = `
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
`;

/**
 * Counters in Redis, shared by every server process that uses the same Redis. Each counter is
 * named by HMAC-SHA256 of its scope and key under `names`, so Redis stores no email hash or
 * client address that could be tested against a list. Servers that share counters must use the
 * same key, which {@link loadLoginThrottleKey} provides from the database.
 */
export class RedisLoginThrottle implements LoginThrottle {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly names: LoginThrottleKeyHash,
  ) {}

  async lockedForMs(scope: ThrottleScope, key: string, now: number): Promise<number> {
    const until = await this.redis.hget(this.key(scope, key), 'u');
    return until ? Math.max(0, Number(until) - now) : 0;
  }

  async recordFailure(
    scope: ThrottleScope,
    key: string,
    rule: ThrottleRule,
    now: number,
  ): Promise<FailureOutcome> {
    const result = (await this.redis.eval(
      RECORD_FAILURE_SCRIPT,
      1,
      this.key(scope, key),
      rule.failureLimit,
      now,
      rule.baseMs,
      rule.maxMs,
      COUNTER_RETENTION_MS,
    )) as [number, number];
    return { lockedForMs: Number(result[0]), lockouts: Number(result[1]) };
  }

  async reset(scope: ThrottleScope, key: string): Promise<void> {
    await this.redis.del(this.key(scope, key));
  }

  async claimAttempt(key: string, ttlMs: number): Promise<string | null> {
    const claim = randomUUID();
    const set = await this.redis.set(this.claimKey(key), claim, 'PX', ttlMs, 'NX');
    return set === 'OK' ? claim : null;
  }

  async releaseAttempt(key: string, claim: string): Promise<void> {
    await this.redis.eval(RELEASE_CLAIM_SCRIPT, 1, this.claimKey(key), claim);
  }

  private claimKey(key: string): string {
    return `${this.prefix}attempt:${this.names.name('account', key)}`;
  }

  private key(scope: ThrottleScope, key: string): string {
    return `${this.prefix}${scope}:${this.names.name(scope, key)}`;
  }
}

/** Sign-in is rejected while the shared failure counters cannot be read or written. */
export class LoginThrottleUnavailableError extends AppError {
  constructor(cause: unknown) {
    super('service_unavailable', 'Sign-in is unavailable: the lockout counters cannot be reached');
    this.cause = cause;
  }
}

/**
 * Wraps a throttle so that its storage failures reject the sign-in with 503. Failing closed
 * keeps an attacker from guessing passwords without limit while Redis is down, at the cost of
 * blocking every sign-in during the outage.
 */
export class FailClosedLoginThrottle implements LoginThrottle {
  constructor(private readonly inner: LoginThrottle) {}

  lockedForMs(scope: ThrottleScope, key: string, now: number): Promise<number> {
    return this.guard(() => this.inner.lockedForMs(scope, key, now));
  }

  recordFailure(
    scope: ThrottleScope,
    key: string,
    rule: ThrottleRule,
    now: number,
  ): Promise<FailureOutcome> {
    return this.guard(() => this.inner.recordFailure(scope, key, rule, now));
  }

  reset(scope: ThrottleScope, key: string): Promise<void> {
    return this.guard(() => this.inner.reset(scope, key));
  }

  claimAttempt(key: string, ttlMs: number, now: number): Promise<string | null> {
    return this.guard(() => this.inner.claimAttempt(key, ttlMs, now));
  }

  releaseAttempt(key: string, claim: string): Promise<void> {
    return this.guard(() => this.inner.releaseAttempt(key, claim));
  }

  private async guard<T>(operation: () => Promise<T>): Promise<T> {
    try {
      return await operation();
    } catch (error) {
      throw new LoginThrottleUnavailableError(error);
    }
  }
}
