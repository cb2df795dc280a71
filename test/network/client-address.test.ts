import type { IPv4, IPv6 } from 'ipaddr.js';
import { describe, expect, it } from 'vitest';

import { parseClientAddress } from '../../src/network/client-address.js';
import { parseClientIp } from '../../src/perimeter/ip-address.js';

describe('parseClientAddress', () => {
  it.each([
    ['203.0.113.7', 'ipv4', '203.0.113.7'],
    ['::ffff:203.0.113.7', 'ipv4', '203.0.113.7'],
    ['2001:db8::1', 'ipv6', '2001:db8::1'],
    ['fe80::1%eth0', 'ipv6', 'fe80::1%eth0'],
  ])('parses %s', (text, kind, printed) => {
    const address = parseClientAddress(text);
    expect(address?.kind()).toBe(kind);
    expect(address?.toString()).toBe(printed);
  });

  it.each([undefined, null, '', 'not-an-address', '203.0.113.300', `${'1:'.repeat(40)}1`])(
    'returns null for %s',
    (text) => {
      expect(parseClientAddress(text)).toBeNull();
      expect(parseClientAddress(text)).toBeNull();
    },
  );

  it('returns the same result for a repeated address', () => {
    const first = parseClientAddress('198.51.100.9');
    const second = parseClientAddress('198.51.100.9');
    expect(second).toBe(first);
    expect(parseClientIp('198.51.100.9')).toBe(first);
  });

  it('freezes cached addresses', () => {
    const ipv4 = parseClientAddress('198.51.100.10');
    const ipv6 = parseClientAddress('2001:db8::10');
    expect(Object.isFrozen(ipv4)).toBe(true);
    expect(Object.isFrozen((ipv4 as IPv4).octets)).toBe(true);
    expect(Object.isFrozen(ipv6)).toBe(true);
    expect(Object.isFrozen((ipv6 as IPv6).parts)).toBe(true);
  });

  it('parses correctly after the cache is emptied', () => {
    for (let i = 0; i < 5000; i += 1) parseClientAddress(`10.0.${i >> 8}.${i & 255}`);
    expect(parseClientAddress('10.0.19.135')?.toString()).toBe('10.0.19.135');
    expect(parseClientAddress('::ffff:10.0.0.1')?.toString()).toBe('10.0.0.1');
  });
});
