import { describe, expect, it } from 'vitest';

import { ruleForKey } from '../../src/perimeter/rate-limit/key-limit.js';
import type { WindowRule } from '../../src/perimeter/rate-limit/sliding-window.js';

const serverRule: WindowRule = { name: 'key', limit: 600, windowMs: 60_000 };

describe('per-key rule', () => {
  it('lower key limit applies', () => {
    expect(ruleForKey(serverRule, 10)).toEqual({ name: 'key', limit: 10, windowMs: 60_000 });
  });

  it('key cannot raise the server limit', () => {
    expect(ruleForKey(serverRule, 10_000)).toBe(serverRule);
    expect(ruleForKey(serverRule, 600)).toBe(serverRule);
  });

  it('no key limit keeps the server rule', () => {
    expect(ruleForKey(serverRule, null)).toBe(serverRule);
    expect(ruleForKey(serverRule, undefined)).toBe(serverRule);
  });

  it('key limit applies when the server rule is off', () => {
    const off = { ...serverRule, limit: 0 };
    expect(ruleForKey(off, 25).limit).toBe(25);
    expect(ruleForKey(off, null)).toBe(off);
  });
});
