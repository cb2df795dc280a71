import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { GatewayError } from '../../src/gateway/gateway-error.js';
import {
  createUpstreamClient,
  type UpstreamCancel,
} from '../../src/gateway/upstream/upstream-client.js';

/** What the provider stand-in received, and whether a response was cut off by the client. */
const seen = { bodies: [] as string[], apiKeys: [] as string[], closedEarly: 0 };

function respond(req: IncomingMessage, res: ServerResponse, body: string): void {
  seen.bodies.push(body);
  seen.apiKeys.push(String(req.headers['x-api-key']));
  res.on('close', () => {
    if (!res.writableFinished) seen.closedEarly++;
  });
  if (req.url === '/json') {
    res.writeHead(200, { 'content-type': 'application/json', 'retry-after': '7' });
    res.end(JSON.stringify({ ok: true, echo: JSON.parse(body) as unknown }));
  } else if (req.url === '/large') {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.write('x'.repeat(4096));
    res.end('y'.repeat(4096));
  } else if (req.url === '/stall') {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.write('{"partial":');
  } else if (req.url === '/never') {
    // No response: the client's headers timeout or a cancel ends the call.
  } else {
    res.writeHead(404, { 'content-type': 'application/json' });
    res.end('{"error":"not found"}');
  }
}

let server: Server;
let origin: string;
const client = createUpstreamClient({ timeoutMs: 1000 });

beforeAll(async () => {
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => respond(req, res, Buffer.concat(chunks).toString('utf8')));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await client.close();
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

const request = { headers: { 'content-type': 'application/json', 'x-api-key': 'provider-key' } };

/** Returns the gateway error a failing buffered call rejects with. */
async function failure(promise: Promise<unknown>): Promise<GatewayError> {
  const error: unknown = await promise.then(
    () => new Error('expected the call to fail'),
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(GatewayError);
  return error as GatewayError;
}

describe('upstream client, buffered calls', () => {
  it('returns status, headers and body', async () => {
    const response = await client.sendBuffered(`${origin}/json`, {
      ...request,
      body: '{"model":"m"}',
      maxBytes: 1024,
    });
    expect(response.status).toBe(200);
    expect(response.headers['content-type']).toBe('application/json');
    expect(response.headers['retry-after']).toBe('7');
    expect(JSON.parse(response.body.toString('utf8'))).toEqual({ ok: true, echo: { model: 'm' } });
    expect(seen.bodies.at(-1)).toBe('{"model":"m"}');
    expect(seen.apiKeys.at(-1)).toBe('provider-key');
  });

  it('passes error statuses through', async () => {
    const response = await client.sendBuffered(`${origin}/missing`, {
      ...request,
      body: '{}',
      maxBytes: 1024,
    });
    expect(response.status).toBe(404);
    expect(response.body.toString('utf8')).toBe('{"error":"not found"}');
  });

  it('rejects a body over maxBytes', async () => {
    const error = await failure(
      client.sendBuffered(`${origin}/large`, { ...request, body: '{}', maxBytes: 5000 }),
    );
    expect(error.code).toBe('upstream_error');
    expect(error.message).toBe('The model provider response is too large');
  });

  it('accepts a body of exactly maxBytes', async () => {
    const response = await client.sendBuffered(`${origin}/large`, {
      ...request,
      body: '{}',
      maxBytes: 8192,
    });
    expect(response.body.length).toBe(8192);
  });

  it('times out a stalled body', async () => {
    const error = await failure(
      client.sendBuffered(`${origin}/stall`, { ...request, body: '{}', maxBytes: 1024 }),
    );
    expect(error.code).toBe('upstream_timeout');
  });

  it('times out missing headers', async () => {
    const error = await failure(
      client.sendBuffered(`${origin}/never`, { ...request, body: '{}', maxBytes: 1024 }),
    );
    expect(error.code).toBe('upstream_timeout');
  });

  it('cancel aborts the provider call', async () => {
    const closedBefore = seen.closedEarly;
    const receivedBefore = seen.bodies.length;
    let call: UpstreamCancel | undefined;
    const outcome = failure(
      client.sendBuffered(`${origin}/stall`, {
        ...request,
        body: '{}',
        maxBytes: 1024,
        onStart: (started) => {
          call = started;
        },
      }),
    );
    // Cancels once the provider has the request, as when a client leaves mid-call.
    const deadline = Date.now() + 5000;
    while (seen.bodies.length === receivedBefore && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    call?.cancel();
    const error = await outcome;
    expect(error.code).toBe('upstream_unreachable');
    while (seen.closedEarly === closedBefore && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    expect(seen.closedEarly).toBe(closedBefore + 1);
  });

  it('cancel before the connection starts still aborts', async () => {
    const error = await failure(
      client.sendBuffered(`${origin}/never`, {
        ...request,
        body: '{}',
        maxBytes: 1024,
        onStart: (call) => call.cancel(),
      }),
    );
    expect(error.code).toBe('upstream_unreachable');
  });

  it('unreachable provider gives upstream_unreachable', async () => {
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const port = (probe.address() as AddressInfo).port;
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    const error = await failure(
      client.sendBuffered(`http://127.0.0.1:${port}/json`, {
        ...request,
        body: '{}',
        maxBytes: 1024,
      }),
    );
    expect(error.code).toBe('upstream_unreachable');
  });
});
