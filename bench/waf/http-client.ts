import { connect } from 'node:net';

import type { BenchCase } from './corpus.js';

/** Time allowed for the server to respond to one request, in milliseconds. */
const REQUEST_TIMEOUT_MS = 10_000;

/** Rejects any address other than the loopback interface, so the bench only reaches servers started locally. */
export function parseLoopbackUrl(url: string): { host: string; port: number } {
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

/** Sends one case to the server and returns whether it was blocked by the WAF. */
export function sendCase(
  address: { host: string; port: number },
  item: BenchCase,
): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const socket = connect(address.port, address.host);
    const chunks: Buffer[] = [];
    socket.setTimeout(REQUEST_TIMEOUT_MS, () =>
      socket.destroy(new Error(`request ${item.id} timed out after ${REQUEST_TIMEOUT_MS} ms`)),
    );
    socket.on('connect', () => socket.end(serializeRequest(item)));
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', reject);
    socket.on('close', () => resolve(isWafBlock(Buffer.concat(chunks).toString('utf8'))));
  });
}
