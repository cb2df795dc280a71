/* eslint-disable security/detect-non-literal-fs-filename -- corpus paths come from the command line or the repository */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

import type { WafRequest } from '../../src/perimeter/waf/index.js';

/** One replayed request with its label. */
export interface BenchCase {
  id: string;
  /** Corpus family, for example `942-sqli`, `libinjection-xss`, `user-agents`. */
  family: string;
  /** Paranoia level of the rule the case was written for; attacks count from that level on. */
  paranoia: number;
  attack: boolean;
  /** True when no rule at all may fire on the case. */
  strictBenign: boolean;
  request: WafRequest;
  /** Raw request bytes for HTTP replay of cases that a normal client cannot send. */
  raw: Buffer | undefined;
}

/** A case left out of the replay, and the reason. */
export interface SkippedCase {
  id: string;
  family: string;
  reason: string;
}

/** All cases of a corpus directory. */
export interface Corpus {
  cases: BenchCase[];
  skipped: SkippedCase[];
}

interface CrsRecord {
  id: string;
  family: string;
  rule_pl: number | null;
  scope: string;
  method: string;
  path: string;
  headers: Array<[string, string]>;
  body: string;
  raw_request_b64?: string;
  expect_block: boolean;
  strict_benign: boolean;
  needs_raw_socket: boolean;
}

function parseCookies(header: string | undefined): Record<string, string> {
  const cookies: Record<string, string> = {};
  for (const part of (header ?? '').split(';')) {
    const equals = part.indexOf('=');
    if (equals < 0) continue;
    cookies[part.slice(0, equals).trim()] = part.slice(equals + 1).trim();
  }
  return cookies;
}

/** Decodes a chunked transfer-encoded body, as the HTTP server does before the WAF runs. */
function dechunk(body: string): string {
  let out = '';
  let rest = body;
  for (;;) {
    const lineEnd = rest.indexOf('\r\n');
    if (lineEnd < 0) return out;
    const size = Number.parseInt(rest.slice(0, lineEnd), 16);
    if (!Number.isFinite(size) || size <= 0) return out;
    out += rest.slice(lineEnd + 2, lineEnd + 2 + size);
    rest = rest.slice(lineEnd + 2 + size + 2);
  }
}

/** Builds the normalized request the server would pass to the engine. */
export function buildRequest(
  method: string,
  target: string,
  headerList: Array<[string, string]>,
  body: string,
): WafRequest {
  const headers: Record<string, string | string[]> = {};
  for (const [name, value] of headerList) {
    const key = name.toLowerCase();
    const previous = headers[key];
    headers[key] = previous === undefined ? value : [...[previous].flat(), value];
  }
  const question = target.indexOf('?');
  const chunked = String(headers['transfer-encoding'] ?? '')
    .toLowerCase()
    .includes('chunked');
  if (chunked) body = dechunk(body);
  const contentType = String(headers['content-type'] ?? '').toLowerCase();
  let parsedBody: unknown = body === '' ? undefined : body;
  if (body !== '' && contentType.includes('json')) {
    try {
      parsedBody = JSON.parse(body) as unknown;
    } catch {
      parsedBody = body;
    }
  }
  const cookieHeader = headers['cookie'];
  return {
    method,
    path: question < 0 ? target : target.slice(0, question),
    rawQuery: question < 0 ? '' : target.slice(question + 1),
    headers,
    cookies: parseCookies(Array.isArray(cookieHeader) ? cookieHeader.join('; ') : cookieHeader),
    body: parsedBody,
    bodyKind: body === '' ? 'none' : 'admin',
    routeId: 'bench',
  };
}

function loadCrs(path: string, corpus: Corpus): void {
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    if (line.trim() === '') continue;
    const record = JSON.parse(line) as CrsRecord;
    const family = record.family;
    if (record.scope !== 'request') {
      corpus.skipped.push({
        id: record.id,
        family,
        reason: 'response inspection is not implemented',
      });
      continue;
    }
    const raw = record.raw_request_b64 ? Buffer.from(record.raw_request_b64, 'base64') : undefined;
    corpus.cases.push({
      id: record.id,
      family,
      paranoia: record.rule_pl ?? 1,
      attack: record.expect_block,
      strictBenign: record.strict_benign,
      request: buildRequest(record.method, record.path, record.headers, record.body ?? ''),
      raw: record.needs_raw_socket ? (raw ?? Buffer.alloc(0)) : undefined,
    });
  }
}

function payloadCase(id: string, family: string, attack: boolean, payload: string): BenchCase {
  const headers: Array<[string, string]> = [
    ['Host', 'localhost'],
    ['User-Agent', 'OWASP CRS test agent'],
  ];
  const request = buildRequest('GET', `/get?q=${encodeURIComponent(payload)}`, headers, '');
  return { id, family, paranoia: 1, attack, strictBenign: !attack, request, raw: undefined };
}

function loadLibinjection(dir: string, corpus: Corpus): void {
  for (const file of readdirSync(dir).sort()) {
    if (!file.endsWith('.txt')) continue;
    const attack = file.startsWith('sqli-') || file.startsWith('xss-');
    const family = file.startsWith('sqli-')
      ? 'libinjection-sqli'
      : file.startsWith('xss-')
        ? 'libinjection-xss'
        : 'libinjection-benign';
    const lines = readFileSync(join(dir, file), 'utf8').split('\n');
    lines.forEach((line, index) => {
      const id = `${file}:${index + 1}`;
      if (line.trim() === '' || line.startsWith('#')) return;
      if (!attack && file !== 'false_positives.txt') {
        corpus.skipped.push({
          id,
          family: 'libinjection-unlabeled',
          reason: 'file name carries no label',
        });
        return;
      }
      corpus.cases.push(payloadCase(id, family, attack, line));
    });
  }
}

function loadUserAgents(path: string, corpus: Corpus): void {
  readFileSync(path, 'utf8')
    .split('\n')
    .forEach((agent, index) => {
      if (agent.trim() === '' || agent.startsWith('#')) return;
      const headers: Array<[string, string]> = [
        ['Host', 'localhost'],
        ['User-Agent', agent],
        ['Accept', 'text/html,application/xhtml+xml,*/*;q=0.8'],
      ];
      const request = buildRequest('GET', '/', headers, '');
      corpus.cases.push({
        id: `user-agent:${index + 1}`,
        family: 'user-agents',
        paranoia: 1,
        attack: false,
        strictBenign: true,
        request,
        raw: undefined,
      });
    });
}

/** Loads every corpus file present in `dir`; missing files are skipped silently. */
export function loadCorpus(dir: string): Corpus {
  const corpus: Corpus = { cases: [], skipped: [] };
  const crs = join(dir, 'crs-regression-cases.jsonl');
  if (existsSync(crs)) loadCrs(crs, corpus);
  const libinjection = join(dir, 'libinjection');
  if (existsSync(libinjection)) loadLibinjection(libinjection, corpus);
  const agents = join(dir, 'popular-user-agents.data');
  if (existsSync(agents)) loadUserAgents(agents, corpus);
  return corpus;
}
