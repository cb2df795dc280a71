import { describe, expect, it } from 'vitest';

import { ipKey, parseClientIp } from '../../../src/perimeter/ip-address.js';
import { ListFileError } from '../../../src/perimeter/reloading-list.js';
import { parseTorExitList } from '../../../src/perimeter/tor/tor-exit-list.js';

const key = (ip: string) => ipKey(parseClientIp(ip)!);

const EXIT_ADDRESSES = `ExitNode 0011BD2485AD45D984EC4159C88FC066E5E3300E
Published 2026-12-03 19:42:21
LastStatus 2026-12-04 08:00:00
ExitAddress 185.220.101.7 2026-12-04 08:04:56
ExitNode 0106C2B5A2C7B6E21E1F8C2B9E6D2A3F1B2C3D4E
Published 2026-12-03 11:02:10
LastStatus 2026-12-04 07:00:00
ExitAddress 2a0b:f4c2::1 2026-12-04 07:13:02
ExitAddress 185.220.101.8 2026-12-04 07:13:02
`;

describe('Tor exit list', () => {
  it('reads the exit-addresses format', () => {
    const list = parseTorExitList([{ path: 'exit-addresses', text: EXIT_ADDRESSES }]);
    expect([...list].sort()).toEqual(
      [key('185.220.101.7'), key('185.220.101.8'), key('2a0b:f4c2::1')].sort(),
    );
  });

  it('reads one address per line', () => {
    const text = '# bulk list\n185.220.101.9\r\n\n2A0B:F4C2:0:0::2\n::ffff:198.51.100.4\n';
    const list = parseTorExitList([{ path: 'bulk', text }]);
    expect(list.has(key('185.220.101.9'))).toBe(true);
    expect(list.has(key('2a0b:f4c2::2'))).toBe(true);
    expect(list.has(key('198.51.100.4'))).toBe(true);
    expect(list.size).toBe(3);
  });

  it('names the file and line of a bad entry', () => {
    const text =
      'ExitAddress 185.220.101.7 2026-12-04 08:04:56\nExitAddress 999.1.1.1 2026-12-04\n';
    let caught: unknown;
    try {
      parseTorExitList([{ path: '/etc/tor-exits.txt', text }]);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(ListFileError);
    expect((caught as ListFileError).file).toBe('/etc/tor-exits.txt');
    expect((caught as ListFileError).line).toBe(2);
    expect((caught as Error).message).toContain('"999.1.1.1" is not an IPv4 or IPv6 address');
  });

  it.each([
    ['two addresses on a line', '185.220.101.7 185.220.101.8'],
    ['a CIDR range', '185.220.101.0/24'],
    ['an unknown keyword', 'ExitPolicy accept *:*'],
    ['a shorthand IPv4 form', '127.1'],
    ['an IPv6 zone', 'fe80::1%eth0'],
  ])('rejects %s', (_name, line) => {
    expect(() => parseTorExitList([{ path: 'list', text: line }])).toThrow(ListFileError);
  });
});
