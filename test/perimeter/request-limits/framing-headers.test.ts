import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { startTestServer, type TestServer } from '../../support/test-server.js';
import { sendRaw } from './raw-http.js';

let t: TestServer;
let host: string;

beforeAll(async () => {
  t = await startTestServer();
  host = new URL(t.url).host;
});

afterAll(async () => {
  await t?.stop();
});

describe('repeated framing headers', () => {
  const get = (headers: string) =>
    `GET /healthz HTTP/1.1\r\n${headers}User-Agent: a\r\nConnection: close\r\n\r\n`;
  const post = (headers: string, body: string) =>
    `POST /api/v1/auth/login HTTP/1.1\r\nHost: ${host}\r\nUser-Agent: a\r\n` +
    `Content-Type: application/json\r\n${headers}Connection: close\r\n\r\n${body}`;

  const rejected: Array<[string, () => string]> = [
    ['Host three times', () => get(`Host: ${host}\r\nHost: ${host}\r\nHost: ${host}\r\n`)],
    ['Host in upper case twice', () => get(`HOST: ${host}\r\nhost: ${host}\r\n`)],
    [
      'Host apart from its repeat',
      () => get(`Host: ${host}\r\nX-A: 1\r\nX-B: 2\r\nhOsT: ${host}\r\n`),
    ],
    ['Host with an empty repeat', () => get(`Host: ${host}\r\nHost:\r\n`)],
    ['Content-Length in two cases', () => post('Content-Length: 2\r\ncontent-LENGTH: 2\r\n', '{}')],
    [
      'Transfer-Encoding in two cases',
      () => post('transfer-encoding: chunked\r\nTRANSFER-ENCODING: chunked\r\n', '0\r\n\r\n'),
    ],
    [
      'Transfer-Encoding with Content-Length in other cases',
      () => post('TRANSFER-encoding: chunked\r\nCONTENT-length: 5\r\n', '0\r\n\r\n'),
    ],
    ['obs-fold Content-Length', () => post('Content-Length:\r\n 2\r\n', '{}')],
    ['tab before colon', () => post('Content-Length\t: 2\r\n', '{}')],
  ];

  for (const [name, payload] of rejected) {
    it(`${name} gets 400`, async () => {
      const result = await sendRaw(t.url, payload());
      expect(result.status).toBe(400);
      expect(result.closedByServer).toBe(true);
    });
  }

  it('names the repeated Host header in the error', async () => {
    const result = await sendRaw(t.url, get(`Host: ${host}\r\nHoSt: ${host}\r\n`));
    expect(result.status).toBe(400);
    expect(result.text).toContain('host header must appear only once');
  });

  // Names of the same length as a framing header, or containing one, are not framing headers.
  const accepted: Array<[string, string]> = [
    ['lookalike names', 'Hoss: 1\r\nX-Host: 1\r\nHosts: 1\r\nHost-Name: 1\r\n'],
    ['same-length names', 'Tost: 1\r\nContent-Lengtx: 1\r\nTransfer-Encodinx: 1\r\n'],
    ['longer names', 'Content-Length-X: 1\r\nX-Transfer-Encoding: 1\r\n'],
  ];

  for (const [name, headers] of accepted) {
    it(`${name} next to one Host pass`, async () => {
      const result = await sendRaw(t.url, get(`Host: ${host}\r\n${headers}`));
      expect(result.status).toBe(200);
    });
  }
});
