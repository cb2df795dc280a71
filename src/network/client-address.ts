import type { FastifyRequest } from 'fastify';
import ipaddr from 'ipaddr.js';

/** A parsed IPv4 or IPv6 address. */
export type IpAddress = ipaddr.IPv4 | ipaddr.IPv6;

/**
 * Parses a client address. An IPv4-mapped IPv6 address (`::ffff:203.0.113.7`, as a dual-stack
 * socket reports IPv4 peers) becomes its IPv4 form, so IPv4 allowlist entries match it.
 * Returns null for anything that is not an address, so callers can deny it.
 */
export function parseClientAddress(text: string | null | undefined): IpAddress | null {
  if (typeof text !== 'string' || !ipaddr.isValid(text)) return null;
  return ipaddr.process(text);
}

/**
 * The client address of a request. Fastify derives `request.ip` from `X-Forwarded-For` only
 * when the peer is in TRUSTED_PROXIES (its `trustProxy` option), and uses the socket's peer
 * address otherwise, so a client cannot choose this value by sending the header itself.
 */
export function clientAddress(request: FastifyRequest): IpAddress | null {
  return parseClientAddress(request.ip);
}
