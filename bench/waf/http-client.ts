import { connect } from 'node:net';

import type { BenchCase } from './corpus.js';

/** Time allowed for the server to respond to one request, in milliseconds. */
const REQUEST_TIMEOUT_MS = 10_000;

/**
 * Outcome of one replayed request:
 * - `waf`: 403 with error code `waf_blocked`;
 * - `http`: rejected by the HTTP layer in front of the WAF, that is Node's parser or the
 *   request checks (status 400, 408, 413 or 431 before any route ran), or the connection
 *   closed without a response;
 * - `passed`: any other response, which means the request reached routing.
 */
export type Outcome = 'waf' | 'http' | 'passed';

/** Statuses with which the HTTP layer rejects a request before the WAF or a route runs. */
const HTTP_LAYER_STATUSES = new Set([400, 408, 413, 431]);

/** Loopback address of a server the bench may send to. */
export interface LoopbackAddress {
  host: string;
  port: number;
}

/** Rejects any address other than the loopback interface, so the bench only reaches servers started locally. */
export function parseLoopbackUrl(url: string): LoopbackAddress {
  const parsed = new URL(url);
  if (parsed.hostname !== '127.0.0.1' && parsed.hostname !== 'localhost') {
    throw new Error(`invalid --http URL ${url}: only 127.0.0.1 or localhost is allowed`);
  }
  return { host: '127.0.0.1', port: Number(parsed.port || 80) };
}

function headerLines(item: BenchCase): string[] {
  const lines: string[] = [];
  for (const [name, value] of Object.entries(item.request.headers)) {
    if (name === 'content-length' || name === 'connection' || value === undefined) continue;
    for (const single of [value].flat()) lines.push(`${name}: ${single}`);
  }
  return lines;
}

/** Serializes a case as an HTTP/1.1 request; raw-socket cases are sent byte for byte. */
export function serializeRequest(item: BenchCase): Buffer {
  if (item.raw !== undefined && item.raw.length > 0) return item.raw;
  const { request } = item;
  const body =
    request.body === undefined
      ? ''
      : typeof request.body === 'string'
        ? request.body
        : JSON.stringify(request.body);
  const bodyBytes = Buffer.from(body, 'utf8');
  const target = request.rawQuery === '' ? request.path : `${request.path}?${request.rawQuery}`;
  const lines = [`${request.method} ${target} HTTP/1.1`, ...headerLines(item), 'connection: close'];
  if (bodyBytes.length > 0 || ['POST', 'PUT', 'PATCH'].includes(request.method))
    lines.push(`content-length: ${bodyBytes.length}`);
  return Buffer.concat([Buffer.from(lines.join('\r\n') + '\r\n\r\n', 'latin1'), bodyBytes]);
}

/** Reports whether a raw HTTP response is a WAF block: status 403 with JSON error code `waf_blocked`. */
export function isWafBlock(response: string): boolean {
  const statusLine = response.slice(0, response.indexOf('\r\n'));
  if (statusLine.split(' ')[1] !== '403') return false;
  const body = response.slice(response.indexOf('\r\n\r\n') + 4);
  try {
    const parsed = JSON.parse(body) as { error?: { code?: unknown } | string; code?: unknown };
    const code =
      typeof parsed.error === 'object' ? parsed.error.code : (parsed.code ?? parsed.error);
    return code === 'waf_blocked';
  } catch {
    return body.includes('"waf_blocked"');
  }
}

/** Classifies a raw HTTP response, or an empty one when the server closed without responding. */
export function classifyResponse(response: string): Outcome {
  if (isWafBlock(response)) return 'waf';
  const match = /^HTTP\/1\.[01] (\d{3})/.exec(response);
  if (match === null) return 'http';
  return HTTP_LAYER_STATUSES.has(Number(match[1])) ? 'http' : 'passed';
}

/** Sends one case on a new connection and classifies the response. */
export function sendCase(address: LoopbackAddress, item: BenchCase): Promise<Outcome> {
  return new Promise((resolve, reject) => {
    const socket = connect(address.port, address.host);
    const chunks: Buffer[] = [];
    socket.setTimeout(REQUEST_TIMEOUT_MS, () =>
      socket.destroy(new Error(`request ${item.id} timed out after ${REQUEST_TIMEOUT_MS} ms`)),
    );
    socket.on('connect', () => socket.end(serializeRequest(item)));
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', (error: NodeJS.ErrnoException) => {
      // The server may reset the connection after responding to a request it rejected before
      // reading all of it. The bytes that arrived before the reset still count.
      if (error.code === 'ECONNRESET' || error.code === 'EPIPE') return;
      reject(error);
    });
    socket.on('close', () => resolve(classifyResponse(Buffer.concat(chunks).toString('latin1'))));
  });
}

/**
 * Sends every case to the server at `address`, at most `concurrency` at a time, each on its
 * own connection, and returns the outcome per case id.
 */
export async function replayOverHttp(
  address: LoopbackAddress,
  cases: readonly BenchCase[],
  concurrency: number,
): Promise<Map<string, Outcome>> {
  const outcomes = new Map<string, Outcome>();
  let next = 0;
  const worker = async () => {
    while (next < cases.length) {
      const item = cases[next++];
      if (item === undefined) return;
      outcomes.set(item.id, await sendCase(address, item));
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return outcomes;
}
