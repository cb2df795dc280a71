/**
 * Minimal Anthropic Messages API upstream for the gateway benchmark. It parses each JSON
 * request body and answers `POST /v1/messages` at once with a fixed non-streamed message, so
 * the benchmark measures the gateway rather than the provider. Run in its own process:
 *
 *   npx tsx bench/gateway/upstream.ts
 *
 * It listens on a free port on 127.0.0.1, writes `{"url":"http://127.0.0.1:PORT"}` as its
 * first stdout line, and stops on SIGTERM or SIGINT.
 */
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

function messageBody(model: string): string {
  return JSON.stringify({
    id: 'msg_bench',
    type: 'message',
    role: 'assistant',
    model,
    content: [{ type: 'text', text: 'Hello from the benchmark upstream' }],
    stop_reason: 'end_turn',
    stop_sequence: null,
    usage: { input_tokens: 12, output_tokens: 5 },
  });
}

function sendJson(res: ServerResponse, status: number, body: string): void {
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(body),
  });
  res.end(body);
}

const server = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (chunk: Buffer) => chunks.push(chunk));
  req.on('end', () => {
    if (req.method !== 'POST' || req.url !== '/v1/messages') {
      sendJson(res, 404, JSON.stringify({ type: 'error', error: { type: 'not_found_error' } }));
      return;
    }
    let model = 'unknown';
    try {
      const parsed = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { model?: unknown };
      if (typeof parsed.model === 'string') model = parsed.model;
    } catch {
      sendJson(
        res,
        400,
        JSON.stringify({
          type: 'error',
          error: { type: 'invalid_request_error', message: 'Invalid JSON body' },
        }),
      );
      return;
    }
    sendJson(res, 200, messageBody(model));
  });
});

// Longer than the gateway's 30 s client keep-alive, so the server never closes a pooled
// connection first during a run.
server.keepAliveTimeout = 60_000;

server.listen(0, '127.0.0.1', () => {
  const { port } = server.address() as AddressInfo;
  process.stdout.write(`${JSON.stringify({ url: `http://127.0.0.1:${port}` })}\n`);
});

const stop = () => {
  server.closeAllConnections();
  server.close(() => process.exit(0));
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
