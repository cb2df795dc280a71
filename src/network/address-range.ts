import ipaddr from 'ipaddr.js';
import { z } from 'zod';

import type { IpAddress } from './client-address.js';

/** A CIDR range: a network address and its prefix length. */
export interface AddressRange {
  network: IpAddress;
  prefixLength: number;
}

/** The canonical text of a range, e.g. `203.0.113.0/24` or `2001:db8::/32`. */
export function formatRange(range: AddressRange): string {
  const address =
    range.network.kind() === 'ipv6'
      ? (range.network as ipaddr.IPv6).toRFC5952String()
      : range.network.toString();
  return `${address}/${range.prefixLength}`;
}

/** Whether `address` lies inside `range`; an IPv4 address never matches an IPv6 range. */
export function rangeContains(range: AddressRange, address: IpAddress): boolean {
  if (range.network.kind() !== address.kind()) return false;
  return address.match(range.network, range.prefixLength);
}

/** Whether any of `ranges` contains `address`. */
export function anyRangeContains(ranges: readonly AddressRange[], address: IpAddress): boolean {
  return ranges.some((range) => rangeContains(range, address));
}

function parseIpv4(text: string): AddressRange | string {
  const cidr = text.includes('/') ? text : `${text}/32`;
  // Four dotted decimal parts only: inet_aton shorthands such as `10.1` or `0x7f.1` are
  // rejected, because readers of the list would not see what they match.
  if (!ipaddr.IPv4.isValidCIDRFourPartDecimal(cidr)) return 'is not a valid IPv4 address or range';
  const [address, prefixLength] = ipaddr.IPv4.parseCIDR(cidr);
  return { network: address, prefixLength };
}

function parseIpv6(text: string): AddressRange | string {
  if (text.includes('%')) return 'must not contain an IPv6 zone id';
  const cidr = text.includes('/') ? text : `${text}/128`;
  if (!ipaddr.IPv6.isValidCIDR(cidr)) return 'is not a valid IPv6 address or range';
  const [address, prefixLength] = ipaddr.IPv6.parseCIDR(cidr);
  if (address.isIPv4MappedAddress()) {
    // Clients with IPv4-mapped addresses are matched in their IPv4 form, so such a range is
    // stored as the IPv4 range it stands for.
    if (prefixLength < 96) return 'mixes IPv4-mapped and other IPv6 addresses; split it';
    return { network: address.toIPv4Address(), prefixLength: prefixLength - 96 };
  }
  return { network: address, prefixLength };
}

/**
 * Parses an address or CIDR range written by an admin. A bare address is a single-address
 * range. A range with bits set after the prefix is rejected with the network address it
 * probably means, rather than silently widened or narrowed.
 */
export function parseRange(text: string): AddressRange | string {
  const parsed = text.includes(':') ? parseIpv6(text) : parseIpv4(text);
  if (typeof parsed === 'string') return parsed;
  const bytes = parsed.network.toByteArray();
  const network = ipaddr.fromByteArray(
    bytes.map((byte, index) => {
      const keep = Math.min(8, Math.max(0, parsed.prefixLength - index * 8));
      return byte & ((0xff << (8 - keep)) & 0xff);
    }),
  );
  const range = { network, prefixLength: parsed.prefixLength };
  if (network.toNormalizedString() !== parsed.network.toNormalizedString()) {
    return `has bits set after the /${parsed.prefixLength} prefix; did you mean ${formatRange(range)}?`;
  }
  return range;
}

/** An address or CIDR range, validated and turned into its canonical text. */
export const addressRangeSchema = z
  .string()
  .trim()
  .min(1)
  .max(64)
  .transform((text, context) => {
    const parsed = parseRange(text);
    if (typeof parsed === 'string') {
      context.addIssue({ code: 'custom', message: `${text} ${parsed}` });
      return z.NEVER;
    }
    return formatRange(parsed);
  });

/** Parses a canonical range read back from the database; throws on text that is not one. */
export function storedRange(text: string): AddressRange {
  const parsed = parseRange(text);
  if (typeof parsed === 'string') throw new Error(`stored allowlist entry ${text} ${parsed}`);
  return parsed;
}
