import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { startTestServer, type TestServer } from '../../support/test-server.js';
import { openSocket, readUntilClose, sendRaw } from './raw-http.js';

const USER_AGENT = 'request-limits-test';
const TEN_MB = 10 * 1024 * 1024;

let t: TestServer;
let host: string;

beforeAll(async () => {
  t = await startTestServer({
    env: {
      HEADERS_TIMEOUT_MS: '1000',
      MAX_HEADER_COUNT: '40',
      MAX_HEADER_BYTES: '8192',
      MAX_CONNECTIONS_PER_IP: '20',
    },
  });
  host = new URL(t.url).host;
});

afterAll(async () => {
  await t?.stop();
});

/** Sends the headers of a body of `length` bytes and only the first `sent` bytes of it. */
async function partialUpload(path: string, length: number, sent: number, extra = '') {
  const socket = await openSocket(t.url);
  const result = readUntilClose(socket, 5000);
  socket.write(
    `POST ${path} HTTP/1.1\r\nHost: ${host}\r\nUser-Agent: ${USER_AGENT}\r\n` +
      `Content-Type: application/json\r\nx-api-key: ${t.boot.apiKey}\r\n${extra}` +
      `Content-Length: ${length}\r\n\r\n`,
  );
  socket.write('{"a":"' + 'x'.repeat(sent - 6));
  return result;
}

describe('body size limits', () => {
  it('gateway body over 10 MB gets 413 early', async () => {
    const result = await partialUpload('/v1/messages', TEN_MB + 1, 64 * 1024);
    expect(result.status).toBe(413);
    expect(result.text).toContain('request_too_large');
    expect(result.closedByServer).toBe(true);
  });

  it('admin body over 1 MB gets 413 early', async () => {
    const result = await partialUpload('/api/v1/auth/login', 1024 * 1024 + 1, 1024);
    expect(result.status).toBe(413);
    expect(result.text).toContain('"code":"payload_too_large"');
  });

  it('chunked admin body is counted as it streams', async () => {
    const socket = await openSocket(t.url);
    const result = readUntilClose(socket, 5000);
    socket.write(
      `POST /api/v1/auth/login HTTP/1.1\r\nHost: ${host}\r\nUser-Agent: ${USER_AGENT}\r\n` +
        'Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n',
    );
    const chunk = 'x'.repeat(64 * 1024);
    // 20 chunks of 64 KiB pass the 1 MB limit; the server must respond before the last one.
    for (let i = 0; i < 20 && !socket.destroyed; i++) {
      socket.write(`${chunk.length.toString(16)}\r\n${chunk}\r\n`);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    const outcome = await result;
    expect(outcome.status).toBe(413);
  });

  it('admin body under the limit is parsed', async () => {
    const response = await fetch(`${t.url}/api/v1/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'user-agent': USER_AGENT },
      body: JSON.stringify({ email: 'nobody@example.com', password: 'x'.repeat(100) }),
    });
    expect(response.status).not.toBe(413);
    await response.arrayBuffer();
  });
});

describe('request smuggling shapes', () => {
  const head = () => `POST /api/v1/auth/login HTTP/1.1\r\nHost: ${host}\r\nUser-Agent: a\r\n`;
  const cases: Array<[string, () => string]> = [
    [
      'Content-Length with Transfer-Encoding',
      () => `${head()}Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`,
    ],
    ['duplicate Content-Length', () => `${head()}Content-Length: 2\r\nContent-Length: 2\r\n\r\n{}`],
    ['differing Content-Length', () => `${head()}Content-Length: 2\r\nContent-Length: 3\r\n\r\n{}`],
    ['Content-Length list', () => `${head()}Content-Length: 2, 2\r\n\r\n{}`],
    ['signed Content-Length', () => `${head()}Content-Length: +2\r\n\r\n{}`],
    [
      'duplicate Transfer-Encoding',
      () => `${head()}Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`,
    ],
    [
      'gzip then chunked coding',
      () => `${head()}Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n`,
    ],
    ['unknown coding', () => `${head()}Transfer-Encoding: xchunked\r\n\r\n0\r\n\r\n`],
    ['space before colon', () => `${head()}Transfer-Encoding : chunked\r\n\r\n0\r\n\r\n`],
    ['folded header', () => `${head()}Transfer-Encoding:\r\n chunked\r\n\r\n0\r\n\r\n`],
    [
      'chunked on HTTP/1.0',
      () =>
        `POST /api/v1/auth/login HTTP/1.0\r\nHost: ${host}\r\nUser-Agent: a\r\n` +
        'Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
    ],
    [
      'duplicate Host',
      () =>
        `GET /api/v1/auth/me HTTP/1.1\r\nHost: ${host}\r\nHost: other.example\r\n` +
        'User-Agent: a\r\n\r\n',
    ],
    [
      'duplicate Host in other case',
      () =>
        `GET /api/v1/auth/me HTTP/1.1\r\nHost: ${host}\r\nhOST: ${host}\r\n` +
        'User-Agent: a\r\n\r\n',
    ],
    [
      'bare LF line ends',
      () =>
        `POST /api/v1/auth/login HTTP/1.1\nHost: ${host}\nUser-Agent: a\nContent-Length: 2\n\n{}`,
    ],
  ];

  for (const [name, payload] of cases) {
    it(`${name} gets 400`, async () => {
      const result = await sendRaw(t.url, payload());
      expect(result.status).toBe(400);
      expect(result.closedByServer).toBe(true);
    });
  }
});

describe('header limits', () => {
  it('too many headers get 431', async () => {
    const extra = Array.from({ length: 45 }, (_, i) => `X-Extra-${i}: ${i}\r\n`).join('');
    const result = await sendRaw(
      t.url,
      `GET /healthz HTTP/1.1\r\nHost: ${host}\r\n${extra}Connection: close\r\n\r\n`,
    );
    expect(result.status).toBe(431);
    expect(result.text).toContain('headers_too_large');
  });

  it('oversized headers get 431', async () => {
    const result = await sendRaw(
      t.url,
      `GET /healthz HTTP/1.1\r\nHost: ${host}\r\nX-Big: ${'a'.repeat(9000)}\r\n\r\n`,
    );
    expect(result.status).toBe(431);
    expect(result.text).toContain('headers_too_large');
  });

  it('slow header client is dropped', async () => {
    const socket = await openSocket(t.url);
    // HEADERS_TIMEOUT_MS is 1 s here. The wait is 30 times longer to leave a busy machine
    // ample time, and the server's close ends the wait as soon as it happens.
    const result = readUntilClose(socket, 30_000);
    socket.write(`GET /healthz HTTP/1.1\r\nHost: ${host}\r\n`);
    // Trickle one header byte at a time, never finishing the header block.
    const trickle = setInterval(() => {
      if (!socket.destroyed) socket.write('X');
    }, 200);
    const outcome = await result;
    clearInterval(trickle);

    expect(outcome.closedByServer).toBe(true);
    // The server never serves the partial request. It sends nothing, or only a 408 Request
    // Timeout, before it closes the connection.
    expect([null, 408]).toContain(outcome.status);
    expect(outcome.text.match(/^HTTP\/1\.[01] /gm) ?? []).toHaveLength(outcome.status ? 1 : 0);
  }, 40_000);
});

describe('User-Agent check', () => {
  it('missing User-Agent gets 400', async () => {
    const result = await sendRaw(
      t.url,
      `GET /api/v1/auth/me HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`,
    );
    expect(result.status).toBe(400);
    expect(result.text).toContain('User-Agent header is missing');
  });

  it('malformed User-Agent gets 400', async () => {
    const response = await fetch(`${t.url}/api/v1/auth/me`, {
      headers: { 'user-agent': ' '.repeat(3) + '\u00e9t\u00e9' },
    });
    expect(response.status).toBe(400);
    const body = (await response.json()) as Record<string, unknown>;
    expect(body.code).toBe('validation_failed');
  });

  it('gateway without User-Agent gets provider shape', async () => {
    const result = await sendRaw(
      t.url,
      `GET /v1/models HTTP/1.1\r\nHost: ${host}\r\nx-api-key: ${t.boot.apiKey}\r\n` +
        'Connection: close\r\n\r\n',
    );
    expect(result.status).toBe(400);
    expect(result.text).toContain('"type":"invalid_request_error"');
  });

  it('probes need no User-Agent', async () => {
    for (const path of ['/healthz', '/readyz']) {
      const result = await sendRaw(
        t.url,
        `GET ${path} HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`,
      );
      expect(result.status, path).toBe(200);
    }
  });
});
