import ipaddr from 'ipaddr.js';

import { parseClientAddress } from '../network/client-address.js';

/** A parsed IPv4 or IPv6 address. */
export type IpAddress = ipaddr.IPv4 | ipaddr.IPv6;

/**
 * Parses a client address such as `request.ip`. An IPv4-mapped IPv6 address
 * (`::ffff:203.0.113.7`, as a dual-stack socket reports IPv4 peers) becomes its IPv4 form, so
 * IPv4 list entries match it. Returns null for anything that is not an address. The returned
 * address is frozen and shared with other callers, because parsed addresses are cached.
 */
export function parseClientIp(text: string | undefined): IpAddress | null {
  return parseClientAddress(text);
}

// One part of a dotted quad: decimal without leading zeros. ipaddr.js checks it is at most 255.
const DECIMAL_PART = /^(0|[1-9]\d{0,2})$/;

function isFourPartDecimal(text: string): boolean {
  const parts = text.split('.');
  return parts.length === 4 && parts.every((part) => DECIMAL_PART.test(part));
}

/**
 * Parses an address from an operator's list file. Only dotted-quad IPv4 with decimal parts and
 * IPv6 without a zone are accepted: the shorthand forms `ipaddr.isValid` also takes (`127.1`,
 * `0x7f.0.0.1`) are typos in a list far more often than intent.
 */
export function parseListedIp(text: string): IpAddress | null {
  // The family is chosen before parsing, because ipaddr.js reports an invalid address by
  // throwing, and a failed IPv4 attempt on every IPv6 line of a large file costs seconds.
  const ipv4 = !text.includes(':');
  if (ipv4 ? !isFourPartDecimal(text) : text.includes('%')) return null;
  try {
    return ipv4 ? ipaddr.IPv4.parse(text) : ipaddr.IPv6.parse(text);
  } catch {
    return null;
  }
}

/**
 * The canonical text of an address, used as a set key and inside signed tokens: dotted quad for
 * IPv4, all eight groups in lower-case hex without a zone for IPv6.
 */
export function ipKey(address: IpAddress): string {
  if (address.kind() === 'ipv4') return address.toString();
  return (address as ipaddr.IPv6).parts.map((part) => part.toString(16)).join(':');
}
