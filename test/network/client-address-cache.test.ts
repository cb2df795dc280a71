import ipaddr from 'ipaddr.js';
import { describe, expect, it } from 'vitest';

import { parseClientAddress, type IpAddress } from '../../src/network/client-address.js';
import { parseClientIp } from '../../src/perimeter/ip-address.js';

/** Parses `text` as parseClientAddress did before parsed addresses were cached. */
function parseFresh(text: string): IpAddress | null {
  return ipaddr.isValid(text) ? ipaddr.process(text) : null;
}

function describeAddress(address: IpAddress | null): string | null {
  if (address === null) return null;
  const zone = address.kind() === 'ipv6' ? ((address as ipaddr.IPv6).zoneId ?? '') : '';
  return `${address.kind()} ${address.toNormalizedString()} ${zone} ${address.range()}`;
}

const ODD_INPUTS = [
  '',
  ' ',
  '1.2.3.4 ',
  ' 1.2.3.4',
  '010.0.0.1',
  '0x7f.1',
  '0x7f000001',
  '2130706433',
  '127.1',
  '1.2.3',
  '01.02.03.04',
  '255.255.255.255',
  '256.0.0.1',
  '::ffff:1.2.3.4',
  '::FFFF:1.2.3.4',
  '::ffff:0102:0304',
  '::1.2.3.4',
  '::',
  '::1',
  '2001:DB8::1',
  '2001:db8:0:0:0:0:0:1',
  'fe80::1%eth0',
  'fe80::1%',
  'fe80::1%1',
  '::ffff:1.2.3.4%eth0',
  '1.2.3.4%eth0',
  `fe80::1%${'z'.repeat(60)}`,
  `fe80::1%${'z'.repeat(200)}`,
  `${'1:'.repeat(7)}1`,
  'a'.repeat(100_000),
  '1.2.3.4\u0000',
  '\u0661.2.3.4',
];

describe('parseClientAddress cache', () => {
  it.each(ODD_INPUTS.map((text) => [JSON.stringify(text).slice(0, 40), text]))(
    'parses %s as before, also when cached',
    (_label, text) => {
      const expected = describeAddress(parseFresh(text));
      expect(describeAddress(parseClientAddress(text))).toBe(expected);
      expect(describeAddress(parseClientAddress(text))).toBe(expected);
      expect(describeAddress(parseClientIp(text))).toBe(expected);
    },
  );

  it('maps IPv4-mapped text to IPv4', () => {
    const mapped = parseClientAddress('::ffff:192.0.2.55');
    const plain = parseClientAddress('192.0.2.55');
    expect(mapped?.kind()).toBe('ipv4');
    expect(mapped?.toString()).toBe(plain?.toString());
  });

  it('rejects writes to a shared address', () => {
    const ipv4 = parseClientAddress('192.0.2.60') as ipaddr.IPv4;
    const ipv6 = parseClientAddress('2001:db8::60%eth1') as ipaddr.IPv6;
    expect(() => {
      ipv4.octets[3] = 1;
    }).toThrow(TypeError);
    expect(() => {
      ipv6.parts[0] = 0;
    }).toThrow(TypeError);
    expect(() => {
      ipv6.zoneId = 'eth2';
    }).toThrow(TypeError);
    expect(() => {
      ipv4.octets.push(7);
    }).toThrow(TypeError);
    expect(parseClientAddress('192.0.2.60')?.toString()).toBe('192.0.2.60');
    expect(parseClientAddress('2001:db8::60%eth1')?.toString()).toBe('2001:db8::60%eth1');
  });

  it('frozen address methods match fresh ones', () => {
    const ipv4 = parseClientAddress('10.1.2.3') as ipaddr.IPv4;
    const ipv6 = parseClientAddress('2001:db8:1:2:3:4:5:6') as ipaddr.IPv6;
    const freshV4 = ipaddr.parse('10.1.2.3') as ipaddr.IPv4;
    const freshV6 = ipaddr.parse('2001:db8:1:2:3:4:5:6') as ipaddr.IPv6;

    expect(ipv4.match(ipaddr.parseCIDR('10.0.0.0/8'))).toBe(true);
    expect(ipv4.match(ipaddr.parseCIDR('11.0.0.0/8'))).toBe(false);
    expect(ipv4.toByteArray()).toEqual(freshV4.toByteArray());
    expect(ipv4.toIPv4MappedAddress().toString()).toBe(freshV4.toIPv4MappedAddress().toString());
    expect(ipv4.prefixLengthFromSubnetMask()).toBe(freshV4.prefixLengthFromSubnetMask());

    expect(ipv6.match(ipaddr.parseCIDR('2001:db8::/32'))).toBe(true);
    expect(ipv6.isIPv4MappedAddress()).toBe(false);
    expect(ipv6.toNormalizedString()).toBe(freshV6.toNormalizedString());
    expect(ipv6.toRFC5952String()).toBe(freshV6.toRFC5952String());
    expect(ipv6.toByteArray()).toEqual(freshV6.toByteArray());
    expect(ipv6.range()).toBe(freshV6.range());
    expect(ipaddr.subnetMatch(ipv6, { doc: [ipaddr.parseCIDR('2001:db8::/32')] }, 'none')).toBe(
      'doc',
    );
    // The /64 that IPv6 rate limits count, built from the first four parts.
    expect(ipv6.parts.slice(0, 4).map((part) => part.toString(16))).toEqual([
      '2001',
      'db8',
      '1',
      '2',
    ]);
  });

  it('parses correctly after an address flood', () => {
    const first = parseClientAddress('198.51.100.1');
    for (let i = 0; i < 20_000; i += 1) {
      parseClientAddress(`2001:db8::${i.toString(16)}`);
      parseClientAddress(`junk-${i}`);
    }
    for (let i = 0; i < 300; i += 1) {
      const text = `203.0.${i >> 8}.${i & 255}`;
      expect(parseClientAddress(text)?.toString()).toBe(text);
    }
    expect(parseClientAddress('198.51.100.1')?.toString()).toBe(first?.toString());
    expect(parseClientAddress('junk-1')).toBeNull();
  });
});
