import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { buildRequest, type BenchCase } from '../../../bench/waf/corpus.js';
import {
  classifyResponse,
  parseLoopbackUrl,
  replayOverHttp,
  sendCase,
  type LoopbackAddress,
} from '../../../bench/waf/http-client.js';
import { startTestServer, type TestServer } from '../../support/test-server.js';

let t: TestServer;
let address: LoopbackAddress;

beforeAll(async () => {
  t = await startTestServer();
  address = parseLoopbackUrl(t.url);
});

afterAll(async () => {
  await t?.stop();
});

function makeCase(id: string, target: string, body = '', raw?: string): BenchCase {
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
    raw: raw === undefined ? undefined : Buffer.from(raw, 'latin1'),
  };
}

describe('HTTP replay against MindWeave', () => {
  it('SQL injection in the query is a WAF block', async () => {
    expect(await sendCase(address, makeCase('attack', "/get?id=1'%20or%20'1'%3D'1"))).toBe('waf');
  });

  it('benign requests pass', async () => {
    expect(await sendCase(address, makeCase('benign', '/get?page=2'))).toBe('passed');
    expect(await sendCase(address, makeCase('form', '/post', 'name=alice'))).toBe('passed');
  });

  it('smuggling shape is an HTTP-layer rejection', async () => {
    const raw =
      'POST /post HTTP/1.1\r\nHost: localhost\r\nUser-Agent: test\r\n' +
      'Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n';
    expect(await sendCase(address, makeCase('smuggling', '/post', '', raw))).toBe('http');
  });

  it('missing User-Agent is an HTTP-layer rejection', async () => {
    const raw = 'GET /get HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n';
    expect(await sendCase(address, makeCase('no-agent', '/get', '', raw))).toBe('http');
  });

  it('concurrent replay returns every outcome', async () => {
    const cases = Array.from({ length: 20 }, (_, index) =>
      index % 2 === 0
        ? makeCase(`attack-${index}`, '/get?q=%3Cscript%3Ealert(1)%3C/script%3E')
        : makeCase(`benign-${index}`, `/get?page=${index}`),
    );
    const outcomes = await replayOverHttp(address, cases, 4);
    expect(outcomes.size).toBe(20);
    for (const [id, outcome] of outcomes) {
      expect(outcome, id).toBe(id.startsWith('attack') ? 'waf' : 'passed');
    }
  });
});

describe('HTTP replay client', () => {
  it('rejects addresses other than the loopback interface', () => {
    expect(() => parseLoopbackUrl('http://10.0.0.1:8080')).toThrow(/only 127\.0\.0\.1/);
  });

  it('treats other 403 responses as passed', () => {
    const forbidden = 'HTTP/1.1 403 Forbidden\r\n\r\n{"error":"x","code":"forbidden"}';
    expect(classifyResponse(forbidden)).toBe('passed');
  });

  it('treats a closed connection as an HTTP-layer rejection', () => {
    expect(classifyResponse('')).toBe('http');
  });
});
