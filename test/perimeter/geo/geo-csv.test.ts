import { describe, expect, it } from 'vitest';

import { parseGeoCsv } from '../../../src/perimeter/geo/geo-csv.js';
import { parseClientIp } from '../../../src/perimeter/ip-address.js';
import { ListFileError } from '../../../src/perimeter/reloading-list.js';

const CSV = [
  'ip_range_start,ip_range_end,country_code',
  '1.0.0.0,1.0.0.255,AU',
  '5.45.192.0,5.45.255.255,ru',
  '# a comment',
  '',
  '2001:200::,2001:200:ffff:ffff:ffff:ffff:ffff:ffff,JP',
  '2a02:6b8::,2a02:6bf:ffff:ffff:ffff:ffff:ffff:ffff,RU',
  '1.0.4.0,1.0.7.255,AU\r',
].join('\n');

async function countryOf(csv: string, ip: string): Promise<string | null> {
  const database = await parseGeoCsv([{ path: 'geo.csv', text: csv }]);
  return database.lookup(parseClientIp(ip)!);
}

async function lineError(text: string): Promise<ListFileError> {
  const error = await parseGeoCsv([{ path: '/srv/geo.csv', text }]).catch(
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(ListFileError);
  return error as ListFileError;
}

describe('GeoIP CSV', () => {
  it.each([
    ['1.0.0.0', 'AU'],
    ['1.0.0.255', 'AU'],
    ['1.0.1.0', null],
    ['1.0.5.9', 'AU'],
    ['5.45.200.1', 'RU'],
    ['::ffff:5.45.200.1', 'RU'],
    ['2001:200::1', 'JP'],
    ['2001:200:ffff:ffff:ffff:ffff:ffff:ffff', 'JP'],
    ['2001:201::', null],
    ['2a02:6bc:1::7', 'RU'],
    ['10.0.0.1', null],
    ['255.255.255.255', null],
    ['::', null],
  ])('%s is in %s', async (ip, country) => {
    expect(await countryOf(CSV, ip)).toBe(country);
  });

  it('counts ranges per family', async () => {
    const database = await parseGeoCsv([{ path: 'geo.csv', text: CSV }]);
    expect(database.size).toEqual({ ipv4: 3, ipv6: 2 });
    expect([...database.countries].sort()).toEqual(['AU', 'JP', 'RU']);
  });

  it('reads IPv4 and IPv6 from separate files', async () => {
    const database = await parseGeoCsv([
      { path: 'v4.csv', text: '5.45.192.0,5.45.255.255,RU\n' },
      { path: 'v6.csv', text: '2a02:6b8::,2a02:6bf:ffff:ffff:ffff:ffff:ffff:ffff,RU\n' },
    ]);
    expect(database.lookup(parseClientIp('5.45.192.1')!)).toBe('RU');
    expect(database.lookup(parseClientIp('2a02:6b8::1')!)).toBe('RU');
  });

  it.each([
    ['a missing field', '1.0.0.0,AU', 'expected 3 comma-separated fields'],
    ['an extra field', '1.0.0.0,1.0.0.255,AU,Sydney', 'found 4'],
    ['a bad start address', '1.0.0,1.0.0.255,AU', 'the start address "1.0.0"'],
    ['an octet over 255', '1.0.0.0,1.0.0.256,AU', 'the end address "1.0.0.256"'],
    ['mixed IP versions', '1.0.0.0,2001:db8::,AU', 'different IP versions'],
    ['a reversed range', '1.0.0.255,1.0.0.0,AU', 'after the end address'],
    ['a three-letter country', '1.0.0.0,1.0.0.255,AUS', 'is not two letters'],
    ['a numeric range', '16777216,16777471,AU', 'the start address "16777216"'],
  ])('rejects %s', async (_name, line, detail) => {
    const error = await lineError(`2.0.0.0,2.0.0.255,FR\n${line}\n`);
    expect(error.file).toBe('/srv/geo.csv');
    expect(error.line).toBe(2);
    expect(error.message).toContain(detail);
  });

  it('rejects overlapping ranges', async () => {
    const error = await lineError(
      '1.0.0.0,1.0.0.255,AU\n2.0.0.0,2.0.0.9,FR\n1.0.0.128,1.0.1.0,CN\n',
    );
    expect(error.line).toBe(3);
    expect(error.message).toContain('overlaps the range on line 1 of /srv/geo.csv');
  });
});
