import { multipartBoundary, multipartValues, xmlValues } from './body-parsers.js';
import type { Target, TargetKind } from './rule.js';
import { formDecode, urlDecodeOnce } from './transformations.js';
import type { WafRequest } from './types.js';

/**
 * Headers whose values injection rules skip. Credentials are random secrets, and
 * `cookie` is inspected per cookie instead.
 */
export const UNINSPECTED_HEADERS: ReadonlySet<string> = new Set([
  'authorization',
  'proxy-authorization',
  'x-api-key',
  'cookie',
]);

/** Headers that carry the name of an uploaded file. */
const FILENAME_HEADERS: ReadonlySet<string> = new Set([
  'x-filename',
  'x_filename',
  'x.filename',
  'x-file-name',
]);

/** Deepest JSON nesting that is walked; deeper values are not inspected. */
export const MAX_JSON_DEPTH = 32;

/** Targets and the locations whose value was cut to the inspection limit. */
export interface CollectedTargets {
  targets: Target[];
  truncated: string[];
}

interface Collector extends CollectedTargets {
  maxValueLength: number;
  maxValues: number;
}

function add(
  collector: Collector,
  kind: TargetKind,
  name: string,
  location: string,
  value: string,
): void {
  if (collector.targets.length >= collector.maxValues) {
    if (!collector.truncated.includes('values')) collector.truncated.push('values');
    return;
  }
  let inspected = value;
  if (value.length > collector.maxValueLength) {
    inspected = value.slice(0, collector.maxValueLength);
    collector.truncated.push(location);
  }
  collector.targets.push({ kind, name, location, value: inspected });
}

/**
 * Splits `a=1&b=2` into decoded name/value pairs; a part without `=` has an empty value. Stops
 * after `maxPairs` pairs, so a 10 MB form costs no more than its inspected start.
 */
export function parseFormPairs(raw: string, maxPairs = Infinity): Array<[string, string]> {
  const pairs: Array<[string, string]> = [];
  let start = 0;
  while (start < raw.length && pairs.length < maxPairs) {
    const ampersand = raw.indexOf('&', start);
    const end = ampersand < 0 ? raw.length : ampersand;
    const part = raw.slice(start, end);
    start = end + 1;
    if (part === '') continue;
    const equals = part.indexOf('=');
    const name = equals < 0 ? part : part.slice(0, equals);
    const value = equals < 0 ? '' : part.slice(equals + 1);
    pairs.push([formDecode(name), formDecode(value)]);
  }
  return pairs;
}

function addPairs(
  collector: Collector,
  pairs: Array<[string, string]>,
  prefix: 'query' | 'body',
): void {
  for (const [name, value] of pairs) {
    const key = prefix === 'body' ? `$.${name}` : name;
    add(
      collector,
      prefix === 'body' ? 'body-name' : 'query-name',
      name,
      `${prefix}-name:${key}`,
      name,
    );
    add(collector, prefix, name, `${prefix}:${key}`, value);
  }
}

function walkJson(collector: Collector, value: unknown, path: string, depth: number): void {
  if (collector.targets.length >= collector.maxValues) return;
  if (depth > MAX_JSON_DEPTH) {
    if (!collector.truncated.includes('depth')) collector.truncated.push('depth');
    return;
  }
  if (typeof value === 'string') {
    add(collector, 'body', path, `body:${path}`, value);
  } else if (typeof value === 'number' || typeof value === 'boolean') {
    add(collector, 'body', path, `body:${path}`, String(value));
  } else if (Array.isArray(value)) {
    value.forEach((item, index) => walkJson(collector, item, `${path}[${index}]`, depth + 1));
  } else if (value !== null && typeof value === 'object') {
    for (const [key, item] of Object.entries(value)) {
      const childPath = `${path}.${key}`;
      add(collector, 'body-name', key, `body-name:${childPath}`, key);
      walkJson(collector, item, childPath, depth + 1);
    }
  }
}

/** Maximum number of header names whose location string is kept. */
const MAX_CACHED_HEADER_LOCATIONS = 256;

// Most requests send the same few header names, so their `header:<name>` locations are built once.
const headerLocations = new Map<string, string>();

function headerLocation(name: string): string {
  let location = headerLocations.get(name);
  if (location === undefined) {
    location = `header:${name}`;
    if (headerLocations.size < MAX_CACHED_HEADER_LOCATIONS) headerLocations.set(name, location);
  }
  return location;
}

function headerText(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value.join(', ') : value;
}

function collectBody(collector: Collector, request: WafRequest): void {
  const body = request.body;
  if (request.bodyKind === 'prompt' || body === undefined || body === null) return;
  if (typeof body !== 'string') {
    walkJson(collector, body, '$', 0);
    return;
  }
  const rawContentType = headerText(request.headers['content-type']) ?? '';
  const contentType = rawContentType.toLowerCase();
  const boundary = multipartBoundary(rawContentType);
  if (contentType.startsWith('application/x-www-form-urlencoded')) {
    addPairs(collector, parseFormPairs(body, collector.maxValues), 'body');
  } else if (boundary !== undefined) {
    for (const part of multipartValues(body, boundary)) {
      add(collector, 'body-name', part.name, `body-name:$.${part.name}`, part.name);
      add(collector, 'part-name', part.name, `part-name:${part.name}`, part.name);
      add(collector, 'body', part.name, `body:$.${part.name}`, part.value);
      if (part.filename !== undefined) {
        add(collector, 'filename', part.name, `filename:${part.name}`, part.filename);
      }
    }
  } else if (contentType.includes('xml') || body.trimStart().startsWith('<?xml')) {
    for (const item of xmlValues(body)) add(collector, 'body', 'xml', 'body:xml', item.value);
  } else {
    add(collector, 'body', '', 'body', body);
  }
}

/**
 * Extracts the values rules inspect: the decoded path, query names and values, headers,
 * cookie names and values, and the body unless the route marks it as a prompt.
 * Values longer than `maxValueLength` are cut and their locations reported.
 */
export function collectTargets(
  request: WafRequest,
  maxValueLength: number,
  maxValues: number,
): CollectedTargets {
  const collector: Collector = { targets: [], truncated: [], maxValueLength, maxValues };
  add(collector, 'path', '', 'path', urlDecodeOnce(String(request.path ?? '')));
  addPairs(collector, parseFormPairs(String(request.rawQuery ?? ''), collector.maxValues), 'query');
  const headers = request.headers ?? {};
  for (const name of Object.keys(headers)) {
    const value = headerText(headers[name]);
    if (value === undefined || UNINSPECTED_HEADERS.has(name)) continue;
    add(collector, 'header', name, headerLocation(name), value);
    if (FILENAME_HEADERS.has(name)) add(collector, 'filename', name, `filename:${name}`, value);
  }
  for (const [name, value] of Object.entries(request.cookies ?? {})) {
    add(collector, 'cookie-name', name, `cookie-name:${name}`, name);
    add(collector, 'cookie', name, `cookie:${name}`, String(value));
  }
  collectBody(collector, request);
  return collector;
}
