import type { FastifyRequest } from 'fastify';
import ipaddr from 'ipaddr.js';

/** A parsed IPv4 or IPv6 address. */
export type IpAddress = ipaddr.IPv4 | ipaddr.IPv6;

/** Maximum number of parsed client addresses kept. The cache is emptied when it is full. */
const MAX_CACHED_ADDRESSES = 4096;
/**
 * Text longer than this is parsed on every call and never cached, so junk text cannot fill the
 * cache with long keys. The longest IPv6 address without a zone has 45 characters.
 */
const MAX_CACHED_TEXT_LENGTH = 64;

// Several hooks parse the address of each request (rate limits, access rules, allowlists), and a
// client sends many requests from one address, so parsed addresses are kept by their text.
// Cached addresses are frozen, because every caller of parseClientAddress shares them.
const parsedAddresses = new Map<string, IpAddress | null>();

function parseUncached(text: string): IpAddress | null {
  if (!ipaddr.isValid(text)) return null;
  const address = ipaddr.process(text);
  Object.freeze(
    address.kind() === 'ipv4' ? (address as ipaddr.IPv4).octets : (address as ipaddr.IPv6).parts,
  );
  return Object.freeze(address);
}

/**
 * Parses a client address. An IPv4-mapped IPv6 address (`::ffff:203.0.113.7`, as a dual-stack
 * socket reports IPv4 peers) becomes its IPv4 form, so IPv4 allowlist entries match it.
 * Returns null for anything that is not an address, so callers can deny it. The returned
 * address is frozen and may be shared with other callers.
 */
export function parseClientAddress(text: string | null | undefined): IpAddress | null {
  if (typeof text !== 'string') return null;
  if (text.length > MAX_CACHED_TEXT_LENGTH) return parseUncached(text);
  let address = parsedAddresses.get(text);
  if (address === undefined) {
    address = parseUncached(text);
    if (parsedAddresses.size >= MAX_CACHED_ADDRESSES) parsedAddresses.clear();
    parsedAddresses.set(text, address);
  }
  return address;
}

/**
 * The client address of a request. Fastify derives `request.ip` from `X-Forwarded-For` only
 * when the peer is in TRUSTED_PROXIES (its `trustProxy` option), and uses the socket's peer
 * address otherwise, so a client cannot choose this value by sending the header itself.
 */
export function clientAddress(request: FastifyRequest): IpAddress | null {
  return parseClientAddress(request.ip);
}
