import { setImmediate } from 'node:timers/promises';

import type ipaddr from 'ipaddr.js';

import { parseListedIp } from '../ip-address.js';
import { ListFileError, type ListFile } from '../reloading-list.js';
import { GeoDatabase, ipv4Number, ipv6Number, type GeoRange } from './geo-database.js';

// A database of a few hundred thousand lines takes seconds to parse. Parsing yields to other
// work after each batch of lines, so a reload while serving does not stall requests that long.
const LINES_PER_TURN = 10_000;

const COUNTRY_CODE = /^[A-Za-z]{2}$/;

// A first line such as `ip_range_start,ip_range_end,country_code` names the columns.
const HEADER_LINE = /^[A-Za-z_ ]+,[A-Za-z_ ]+,[A-Za-z_ ]+$/;

interface ParsedLine {
  family: 4 | 6;
  range: GeoRange;
}

function parseAddress(text: string, which: string): ipaddr.IPv4 | ipaddr.IPv6 | string {
  const address = parseListedIp(text);
  return address ?? `the ${which} address "${text.slice(0, 64)}" is not an IPv4 or IPv6 address`;
}

/** Parses one `start_ip,end_ip,country_code` line, or returns what is wrong with it. */
function parseLine(text: string, file: string, line: number): ParsedLine | string {
  const fields = text.split(',').map((field) => field.trim());
  if (fields.length !== 3) {
    return `expected 3 comma-separated fields (start_ip,end_ip,country_code), found ${fields.length}`;
  }
  const [startText = '', endText = '', country = ''] = fields;
  const start = parseAddress(startText, 'start');
  if (typeof start === 'string') return start;
  const end = parseAddress(endText, 'end');
  if (typeof end === 'string') return end;
  if (start.kind() !== end.kind())
    return 'the start and end addresses are of different IP versions';
  if (!COUNTRY_CODE.test(country)) {
    return `the country code "${country.slice(0, 16)}" is not two letters (ISO 3166-1 alpha-2)`;
  }
  const family = start.kind() === 'ipv4' ? 4 : 6;
  const range: GeoRange = {
    start:
      family === 4 ? BigInt(ipv4Number(start as ipaddr.IPv4)) : ipv6Number(start as ipaddr.IPv6),
    end: family === 4 ? BigInt(ipv4Number(end as ipaddr.IPv4)) : ipv6Number(end as ipaddr.IPv6),
    country: country.toUpperCase(),
    file,
    line,
  };
  if (range.start > range.end) return 'the start address is after the end address';
  return { family, range };
}

/**
 * Builds a GeoDatabase from CSV files of `start_ip,end_ip,country_code` lines, the format of
 * the ip-location-db country files: inclusive ranges, IPv4 and IPv6 in one file or in several.
 * Blank lines, `#` comments and a header line are skipped.
 *
 * @throws ListFileError naming the file and line of the first invalid or overlapping range.
 */
export async function parseGeoCsv(files: ListFile[]): Promise<GeoDatabase> {
  const ipv4: GeoRange[] = [];
  const ipv6: GeoRange[] = [];
  for (const { path, text } of files) {
    const lines = text.split('\n');
    for (let index = 0; index < lines.length; index += 1) {
      if (index % LINES_PER_TURN === LINES_PER_TURN - 1) await setImmediate();
      const content = (lines[index] ?? '').trim();
      if (content === '' || content.startsWith('#')) continue;
      if (index === 0 && HEADER_LINE.test(content)) continue;
      const parsed = parseLine(content, path, index + 1);
      if (typeof parsed === 'string') throw new ListFileError(path, index + 1, parsed);
      (parsed.family === 4 ? ipv4 : ipv6).push(parsed.range);
    }
  }
  return new GeoDatabase(ipv4, ipv6);
}
