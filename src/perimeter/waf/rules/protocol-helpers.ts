import type { WafRequest } from '../types.js';

/** Returns the first value of a header, or undefined when it is absent. */
export function firstHeader(request: WafRequest, name: string): string | undefined {
  const value = request.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/** Returns all values of a header joined with `, `, or undefined when it is absent. */
export function joinedHeader(request: WafRequest, name: string): string | undefined {
  const value = request.headers[name];
  return Array.isArray(value) ? value.join(', ') : value;
}

/** Reports whether the request carries a non-empty body. */
export function hasBody(request: WafRequest): boolean {
  const body = request.body;
  if (body === undefined || body === null) return false;
  return typeof body !== 'string' || body.length > 0;
}

/** Media types accepted in Content-Type, lower-case, without parameters. */
export const ALLOWED_CONTENT_TYPES: ReadonlySet<string> = new Set([
  'application/x-www-form-urlencoded',
  'multipart/form-data',
  'multipart/related',
  'text/xml',
  'application/xml',
  'application/soap+xml',
  'application/json',
  'application/cloudevents+json',
  'application/cloudevents-batch+json',
  'application/x-ndjson',
  'text/plain',
]);

/** Charsets accepted in the Content-Type charset parameter. */
export const ALLOWED_CHARSETS: ReadonlySet<string> = new Set([
  'utf-8',
  'us-ascii',
  'iso-8859-1',
  'iso-8859-15',
  'windows-1252',
]);

/** Splits `type/subtype; a=1; b="2"` into the media type and lower-case parameter names and values. */
export function parseContentType(header: string): {
  type: string;
  parameters: Array<[string, string]>;
} {
  const [type = '', ...rest] = header.split(';');
  const parameters: Array<[string, string]> = [];
  for (const part of rest) {
    const equals = part.indexOf('=');
    if (equals < 0) continue;
    const name = part.slice(0, equals).trim().toLowerCase();
    let value = part.slice(equals + 1).trim();
    if (value.startsWith('"') && value.endsWith('"') && value.length >= 2)
      value = value.slice(1, -1);
    parameters.push([name, value.toLowerCase()]);
  }
  return { type: type.trim().toLowerCase(), parameters };
}

/** Reports whether a `bytes=` range list contains a range whose end precedes its start. */
export function hasInvalidRange(header: string): boolean {
  const equals = header.indexOf('=');
  for (const range of header.slice(equals + 1).split(',')) {
    const [start, end] = range.trim().split('-');
    if (start === undefined || end === undefined || start === '' || end === '') continue;
    if (Number(end) < Number(start)) return true;
  }
  return false;
}
