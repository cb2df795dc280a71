import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { buildRequest, type BenchCase } from '../../../bench/waf/corpus.js';
import { isWafBlock, parseLoopbackUrl, sendCase } from '../../../bench/waf/http-client.js';
import { createWafEngine } from '../../../src/perimeter/waf/index.js';

const engine = createWafEngine();

/** Reads a request into the engine's request shape, as a minimal stand-in for the gateway server. */
async function toWafRequest(message: IncomingMessage): Promise<ReturnType<typeof buildRequest>> {
  const chunks: Buffer[] = [];
  for await (const chunk of message) chunks.push(chunk as Buffer);
  const headers: Array<[string, string]> = [];
  for (let i = 0; i < message.rawHeaders.length; i += 2) {
    headers.push([message.rawHeaders[i] ?? '', message.rawHeaders[i + 1] ?? '']);
  }
  return buildRequest(
    message.method ?? 'GET',
    message.url ?? '/',
    headers,
    Buffer.concat(chunks).toString('utf8'),
  );
}

let server: Server;
let url: string;

beforeAll(async () => {
  server = createServer((message, response) => {
    void toWafRequest(message).then((request) => {
      const verdict = engine.inspect(request);
      const blocked = verdict.action === 'block';
      response.writeHead(blocked ? 403 : 200, { 'content-type': 'application/json' });
      response.end(JSON.stringify(blocked ? { error: { code: 'waf_blocked' } } : { ok: true }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

function makeCase(id: string, target: string, body = ''): BenchCase {
  const headers: Array<[string, string]> = [
    ['Host', 'localhost'],
    ['User-Agent', 'OWASP CRS test agent'],
  ];
  if (body !== '') headers.push(['Content-Type', 'application/x-www-form-urlencoded']);
  const request = buildRequest(body === '' ? 'GET' : 'POST', target, headers, body);
  return {
    id,
    family: 'test',
    paranoia: 1,
    attack: true,
    strictBenign: false,
    request,
    raw: undefined,
  };
}

describe('HTTP replay', () => {
  it('reports a 403 waf_blocked response as blocked', async () => {
    const address = parseLoopbackUrl(url);
    expect(await sendCase(address, makeCase('attack', "/get?id=1'%20or%20'1'%3D'1"))).toBe(true);
  });

  it('reports an allowed request as not blocked', async () => {
    const address = parseLoopbackUrl(url);
    expect(await sendCase(address, makeCase('benign', '/get?page=2'))).toBe(false);
    expect(await sendCase(address, makeCase('form', '/post', 'name=alice'))).toBe(false);
  });

  it('rejects addresses other than the loopback interface', () => {
    expect(() => parseLoopbackUrl('http://10.0.0.1:8080')).toThrow(/only 127\.0\.0\.1/);
  });

  it('treats other 403 responses as not blocked', () => {
    expect(isWafBlock('HTTP/1.1 403 Forbidden\r\n\r\n{"error":{"code":"forbidden"}}')).toBe(false);
  });
});
