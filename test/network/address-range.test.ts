import { describe, expect, it } from 'vitest';

import {
  addressRangeSchema,
  anyRangeContains,
  parseRange,
  storedRange,
} from '../../src/network/address-range.js';
import { parseClientAddress } from '../../src/network/client-address.js';
import { addressAllowed } from '../../src/network/ip-allowlist.service.js';

function canonical(text: string): string | null {
  const parsed = addressRangeSchema.safeParse(text);
  return parsed.success ? parsed.data : null;
}

function allowed(ranges: string[], ip: string): boolean {
  return addressAllowed(ranges.map(storedRange), parseClientAddress(ip));
}

describe('address range parsing', () => {
  it.each([
    ['203.0.113.0/24', '203.0.113.0/24'],
    ['203.0.113.7', '203.0.113.7/32'],
    [' 10.0.0.0/8 ', '10.0.0.0/8'],
    ['0.0.0.0/0', '0.0.0.0/0'],
    ['2001:db8::/32', '2001:db8::/32'],
    ['2001:DB8:0:0::1', '2001:db8::1/128'],
    ['::ffff:203.0.113.0/120', '203.0.113.0/24'],
    ['::ffff:198.51.100.9', '198.51.100.9/32'],
  ])('accepts %s as %s', (input, expected) => {
    expect(canonical(input)).toBe(expected);
  });

  it.each([
    ['10.1', 'shorthand IPv4'],
    ['0x7f.0.0.1', 'hexadecimal IPv4'],
    ['203.0.113.0/33', 'IPv4 prefix too long'],
    ['2001:db8::/129', 'IPv6 prefix too long'],
    ['fe80::1%eth0', 'zone id'],
    ['::ffff:0:0/80', 'mixed IPv4-mapped range'],
    ['example.com', 'host name'],
    ['', 'empty'],
    ['203.0.113.0/24, 10.0.0.0/8', 'two ranges in one entry'],
  ])('rejects %s (%s)', (input) => {
    expect(canonical(input)).toBeNull();
  });

  it('names the network of a range with host bits', () => {
    expect(parseRange('203.0.113.7/24')).toMatch(/did you mean 203\.0\.113\.0\/24/);
    expect(parseRange('2001:db8::1/32')).toMatch(/did you mean 2001:db8::\/32/);
  });
});

describe('address matching', () => {
  it('matches IPv4 inside and outside a range', () => {
    expect(allowed(['203.0.113.0/24'], '203.0.113.200')).toBe(true);
    expect(allowed(['203.0.113.0/24'], '203.0.114.1')).toBe(false);
  });

  it('matches IPv6 ranges', () => {
    expect(allowed(['2001:db8::/32'], '2001:db8:ffff::1')).toBe(true);
    expect(allowed(['2001:db8::/32'], '2001:db9::1')).toBe(false);
  });

  it('matches IPv4-mapped clients against IPv4 ranges', () => {
    expect(allowed(['203.0.113.0/24'], '::ffff:203.0.113.5')).toBe(true);
    expect(allowed(['203.0.113.0/24'], '::ffff:198.51.100.5')).toBe(false);
  });

  it('keeps IPv4 and IPv6 apart', () => {
    expect(allowed(['::/0'], '203.0.113.5')).toBe(false);
    expect(allowed(['0.0.0.0/0'], '2001:db8::1')).toBe(false);
  });

  it('allows every address with an empty list', () => {
    expect(allowed([], '198.51.100.1')).toBe(true);
    expect(allowed([], 'not an address')).toBe(true);
  });

  it('denies unparsable addresses with a list', () => {
    expect(allowed(['0.0.0.0/0'], 'not an address')).toBe(false);
    expect(addressAllowed([storedRange('0.0.0.0/0')], parseClientAddress(null))).toBe(false);
  });

  it('matches any of several ranges', () => {
    const ranges = ['10.0.0.0/8', '2001:db8::/32'].map(storedRange);
    const address = parseClientAddress('2001:db8::7');
    expect(address).not.toBeNull();
    expect(anyRangeContains(ranges, address!)).toBe(true);
  });
});
