import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { startTestServer, type TestServer } from '../../support/test-server.js';
import { openSocket, readUntilClose, sendRaw } from './raw-http.js';

const USER_AGENT = 'request-limits-test';

/** Sends GET /healthz with the given extra header lines and returns the status. */
async function probe(t: TestServer, hostHeader: string, extra = ''): Promise<number | null> {
  const result = await sendRaw(
    t.url,
    `GET /healthz HTTP/1.1\r\nHost: ${hostHeader}\r\nUser-Agent: ${USER_AGENT}\r\n${extra}` +
      'Connection: close\r\n\r\n',
  );
  return result.status;
}

describe('untrusted peer', () => {
  let t: TestServer;
  let port: string;

  beforeAll(async () => {
    t = await startTestServer({
      env: {
        ALLOWED_HOSTS: 'gateway.example.com,127.0.0.1',
        RATE_LIMIT_IP_MAX: '6',
        MAX_CONNECTIONS_PER_IP: '3',
      },
    });
    port = new URL(t.url).port;
  });

  afterAll(async () => {
    await t?.stop();
  });

  it('allowed hosts pass with and without port', async () => {
    expect(await probe(t, `127.0.0.1:${port}`)).toBe(200);
    expect(await probe(t, 'GATEWAY.example.com')).toBe(200);
  });

  it('other host gets 400', async () => {
    expect(await probe(t, 'evil.example.net')).toBe(400);
  });

  it('X-Forwarded-Host from an untrusted peer is ignored', async () => {
    expect(await probe(t, 'evil.example.net', 'X-Forwarded-Host: gateway.example.com\r\n')).toBe(
      400,
    );
  });

  it('X-Forwarded-For does not split the IP limit', async () => {
    // The four probes above used four of the six requests of this client IP, rejected or not.
    expect(await probe(t, '127.0.0.1', 'X-Forwarded-For: 203.0.113.7\r\n')).toBe(200);
    expect(await probe(t, '127.0.0.1', 'X-Forwarded-For: 203.0.113.8\r\n')).toBe(200);
    expect(await probe(t, '127.0.0.1', 'X-Forwarded-For: 203.0.113.9\r\n')).toBe(429);
  });

  it('connections past the per-IP cap are closed', async () => {
    const sockets = await Promise.all([1, 2, 3].map(() => openSocket(t.url)));
    const extra = await openSocket(t.url);
    const result = await readUntilClose(extra, 2000);
    expect(result.closedByServer).toBe(true);
    expect(result.status).toBeNull();
    for (const socket of sockets) socket.destroy();
  });
});

describe('trusted proxy', () => {
  let t: TestServer;

  beforeAll(async () => {
    t = await startTestServer({
      env: {
        TRUSTED_PROXIES: '127.0.0.1,::1',
        ALLOWED_HOSTS: 'gateway.example.com',
        RATE_LIMIT_IP_MAX: '2',
      },
    });
  });

  afterAll(async () => {
    await t?.stop();
  });

  it('X-Forwarded-Host from the proxy is checked', async () => {
    const forwarded = (value: string) => `X-Forwarded-Host: ${value}\r\n`;
    expect(await probe(t, 'internal:8080', forwarded('gateway.example.com'))).toBe(200);
    expect(await probe(t, 'gateway.example.com', forwarded('evil.example.net'))).toBe(400);
  });

  it('X-Forwarded-For from the proxy names the client', async () => {
    const from = (ip: string) => `X-Forwarded-For: ${ip}\r\n`;
    expect(await probe(t, 'gateway.example.com', from('203.0.113.7'))).toBe(200);
    expect(await probe(t, 'gateway.example.com', from('203.0.113.7'))).toBe(200);
    expect(await probe(t, 'gateway.example.com', from('203.0.113.7'))).toBe(429);
    expect(await probe(t, 'gateway.example.com', from('203.0.113.8'))).toBe(200);
  });
});

describe('Host header syntax', () => {
  let t: TestServer;
  let port: string;

  beforeAll(async () => {
    t = await startTestServer({
      env: { ALLOWED_HOSTS: 'gateway.example.com,[::1],admin.example.com:8443' },
    });
    port = new URL(t.url).port;
  });

  afterAll(async () => {
    await t?.stop();
  });

  it('well-formed allowed hosts pass', async () => {
    expect(await probe(t, 'gateway.example.com')).toBe(200);
    expect(await probe(t, `gateway.example.com:${port}`)).toBe(200);
    expect(await probe(t, '[::1]')).toBe(200);
    expect(await probe(t, `[::1]:${port}`)).toBe(200);
    expect(await probe(t, 'admin.example.com:8443')).toBe(200);
  });

  it('entry with a port admits only that port', async () => {
    expect(await probe(t, 'admin.example.com')).toBe(400);
    expect(await probe(t, 'admin.example.com:8444')).toBe(400);
  });

  it('malformed hosts get 400', async () => {
    const malformed = [
      'gateway.example.com:junk',
      'gateway.example.com:',
      'gateway.example.com:0',
      'gateway.example.com:65536',
      'gateway.example.com:123456',
      'gateway.example.com:80:80',
      'gateway.example.com:+80',
      'gateway.example.com/evil',
      'gateway.example.com@evil.example.net',
      'gateway..example.com',
      '[::1',
      '[::1]junk',
      '[::1]:junk',
      '[not-an-address]',
      '::1',
    ];
    for (const host of malformed) {
      const result = await sendRaw(
        t.url,
        `GET /healthz HTTP/1.1\r\nHost: ${host}\r\nUser-Agent: ${USER_AGENT}\r\n` +
          'Connection: close\r\n\r\n',
      );
      expect(result.status, host).toBe(400);
      expect(result.text, host).toContain('Host header is malformed');
    }
  });

  it('HTTP/1.0 without Host gets 400', async () => {
    const result = await sendRaw(
      t.url,
      `GET /healthz HTTP/1.0\r\nUser-Agent: ${USER_AGENT}\r\n\r\n`,
    );
    expect(result.status).toBe(400);
    expect(result.text).toContain('Host header is malformed');
  });

  it('malformed host on a gateway route gets provider shape', async () => {
    const result = await sendRaw(
      t.url,
      `GET /v1/models HTTP/1.1\r\nHost: gateway.example.com:junk\r\n` +
        `User-Agent: ${USER_AGENT}\r\nx-api-key: ${t.boot.apiKey}\r\nConnection: close\r\n\r\n`,
    );
    expect(result.status).toBe(400);
    expect(result.text).toContain('"type":"invalid_request_error"');
  });
});
