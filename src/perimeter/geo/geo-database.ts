import type ipaddr from 'ipaddr.js';

import type { IpAddress } from '../ip-address.js';
import { ListFileError } from '../reloading-list.js';

/** One inclusive address range of a database file, with where it was read. */
export interface GeoRange {
  start: bigint;
  end: bigint;
  country: string;
  file: string;
  line: number;
}

/** IPv4 addresses as 32-bit numbers and IPv6 addresses as 128-bit bigints. */
export function ipv4Number(address: ipaddr.IPv4): number {
  const [a = 0, b = 0, c = 0, d = 0] = address.octets;
  return a * 0x1000000 + b * 0x10000 + c * 0x100 + d;
}

export function ipv6Number(address: ipaddr.IPv6): bigint {
  let value = 0n;
  for (const part of address.parts) value = (value << 16n) | BigInt(part);
  return value;
}

/** Ranges of one address family, sorted by start, for binary search. */
class RangeTable<N extends number | bigint> {
  constructor(
    private readonly starts: N[],
    private readonly ends: N[],
    private readonly countries: string[],
  ) {}

  get size(): number {
    return this.starts.length;
  }

  /** Returns the country of the range that contains `value`, or null. */
  lookup(value: N): string | null {
    let low = 0;
    let high = this.starts.length - 1;
    let found = -1;
    // The last range that starts at or before `value` is the only one that can contain it,
    // because the ranges do not overlap.
    while (low <= high) {
      const middle = (low + high) >>> 1;
      if ((this.starts[middle] as N) <= value) {
        found = middle;
        low = middle + 1;
      } else {
        high = middle - 1;
      }
    }
    if (found < 0 || value > (this.ends[found] as N)) return null;
    return this.countries[found] ?? null;
  }
}

function byStart(a: GeoRange, b: GeoRange): number {
  if (a.start === b.start) return 0;
  return a.start < b.start ? -1 : 1;
}

/**
 * Sorts the ranges by start and rejects overlaps: with two ranges claiming one address, the
 * country of that address would depend on the order of lines.
 */
function buildTable<N extends number | bigint>(
  ranges: GeoRange[],
  toNumber: (value: bigint) => N,
): RangeTable<N> {
  ranges.sort(byStart);
  const starts: N[] = [];
  const ends: N[] = [];
  const countries: string[] = [];
  let previous: GeoRange | undefined;
  for (const range of ranges) {
    if (previous && range.start <= previous.end) {
      throw new ListFileError(
        range.file,
        range.line,
        `the range overlaps the range on line ${previous.line} of ${previous.file}`,
      );
    }
    starts.push(toNumber(range.start));
    ends.push(toNumber(range.end));
    countries.push(range.country);
    previous = range;
  }
  return new RangeTable(starts, ends, countries);
}

/** An IP-to-country database: non-overlapping IPv4 and IPv6 ranges, each with a country code. */
export class GeoDatabase {
  private readonly ipv4: RangeTable<number>;
  private readonly ipv6: RangeTable<bigint>;
  /** Every country code that appears in the database. */
  readonly countries: ReadonlySet<string>;

  constructor(ipv4Ranges: GeoRange[], ipv6Ranges: GeoRange[]) {
    this.ipv4 = buildTable(ipv4Ranges, Number);
    this.ipv6 = buildTable(ipv6Ranges, (value) => value);
    this.countries = new Set([...ipv4Ranges, ...ipv6Ranges].map((range) => range.country));
  }

  /** Number of IPv4 and IPv6 ranges. */
  get size(): { ipv4: number; ipv6: number } {
    return { ipv4: this.ipv4.size, ipv6: this.ipv6.size };
  }

  /** Returns the country code of `address`, or null when no range contains it. */
  lookup(address: IpAddress): string | null {
    if (address.kind() === 'ipv4') return this.ipv4.lookup(ipv4Number(address as ipaddr.IPv4));
    return this.ipv6.lookup(ipv6Number(address as ipaddr.IPv6));
  }
}
