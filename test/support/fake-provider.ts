import {
  createServer,
  type IncomingHttpHeaders,
  type Server,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo } from 'node:net';

import { anthropicToolAnswer, openaiToolAnswer, type FakeToolCall } from './fake-tool-answers.js';

/** One request the fake provider received. */
export interface ReceivedRequest {
  path: string;
  headers: IncomingHttpHeaders;
  body: Record<string, unknown>;
}

/** Behaviour of the fake for the next calls. */
export type FakeBehavior =
  | { kind: 'normal' }
  | { kind: 'status'; status: number; body: unknown }
  | { kind: 'delay'; ms: number }
  | { kind: 'stall-stream' }
  | { kind: 'tool-call'; call: FakeToolCall };

/**
 * A local HTTP server that speaks the Anthropic Messages and OpenAI Chat Completions APIs,
 * plain and streamed, and records what it receives. It stands in for the real providers,
 * which tests cannot reach.
 */
export class FakeProvider {
  readonly received: ReceivedRequest[] = [];
  behavior: FakeBehavior = { kind: 'normal' };
  /** Streams whose client (the gateway) went away before the stream ended. */
  abortedStreams = 0;
  private server: Server | undefined;

  async start(): Promise<string> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let body: Record<string, unknown> = {};
        try {
          body = JSON.parse(text || '{}') as Record<string, unknown>;
        } catch {
          body = { unparsable: text };
        }
        const path = req.url ?? '/';
        this.received.push({ path, headers: req.headers, body });
        void this.answer(path, body, res);
      });
    });
    this.server.keepAliveTimeout = 60_000;
    await new Promise<void>((resolve) => this.server?.listen(0, '127.0.0.1', resolve));
    const { port } = this.server.address() as AddressInfo;
    return `http://127.0.0.1:${port}`;
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => this.server?.close(() => resolve()));
  }

  private async answer(path: string, body: Record<string, unknown>, res: ServerResponse) {
    const behavior = this.behavior;
    if (behavior.kind === 'status') {
      res.writeHead(behavior.status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(behavior.body));
      return;
    }
    if (behavior.kind === 'delay') await new Promise((resolve) => setTimeout(resolve, behavior.ms));
    if (res.destroyed) return;

    const stream = body.stream === true;
    const model = String(body.model);
    if (behavior.kind === 'tool-call') {
      if (path === '/v1/messages') anthropicToolAnswer(res, model, stream, behavior.call);
      else openaiToolAnswer(res, model, stream, behavior.call);
      return;
    }
    if (path === '/v1/messages') {
      if (stream) this.anthropicStream(model, res, behavior.kind === 'stall-stream');
      else json(res, anthropicMessage(model));
    } else if (path === '/v1/chat/completions') {
      const includeUsage =
        (body.stream_options as { include_usage?: boolean } | undefined)?.include_usage === true;
      if (stream) this.openaiStream(model, res, includeUsage, behavior.kind === 'stall-stream');
      else json(res, openaiCompletion(model));
    } else {
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { message: `unknown path ${path}` } }));
    }
  }

  private sse(res: ServerResponse, events: string[], stall: boolean) {
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
    res.on('close', () => {
      if (!res.writableFinished) this.abortedStreams++;
    });
    const send = stall ? events.slice(0, 3) : events;
    for (const event of send) res.write(event);
    if (!stall) res.end();
  }

  private anthropicStream(model: string, res: ServerResponse, stall: boolean) {
    const event = (type: string, data: unknown) =>
      `event: ${type}\ndata: ${JSON.stringify(data)}\n\n`;
    const words = ['Hello', ' from', ' the', ' fake', ' provider'];
    this.sse(
      res,
      [
        event('message_start', {
          type: 'message_start',
          message: {
            ...anthropicMessage(model),
            content: [],
            stop_reason: null,
            usage: { input_tokens: 12, output_tokens: 1 },
          },
        }),
        event('content_block_start', {
          type: 'content_block_start',
          index: 0,
          content_block: { type: 'text', text: '' },
        }),
        ...words.map((word) =>
          event('content_block_delta', {
            type: 'content_block_delta',
            index: 0,
            delta: { type: 'text_delta', text: word },
          }),
        ),
        event('content_block_stop', { type: 'content_block_stop', index: 0 }),
        event('message_delta', {
          type: 'message_delta',
          delta: { stop_reason: 'end_turn', stop_sequence: null },
          usage: { output_tokens: 5 },
        }),
        event('message_stop', { type: 'message_stop' }),
      ],
      stall,
    );
  }

  private openaiStream(model: string, res: ServerResponse, includeUsage: boolean, stall: boolean) {
    const chunk = (delta: Record<string, unknown>, finish: string | null) => ({
      id: 'chatcmpl-fake',
      object: 'chat.completion.chunk',
      created: 1_700_000_000,
      model,
      choices: [{ index: 0, delta, finish_reason: finish }],
    });
    const data = (value: unknown) => `data: ${JSON.stringify(value)}\n\n`;
    const events = [
      data(chunk({ role: 'assistant', content: '' }, null)),
      ...['Hello', ' from', ' the', ' fake', ' provider'].map((word) =>
        data(chunk({ content: word }, null)),
      ),
      data(chunk({}, 'stop')),
    ];
    if (includeUsage) {
      events.push(
        data({
          ...chunk({}, null),
          choices: [],
          usage: { prompt_tokens: 9, completion_tokens: 5, total_tokens: 14 },
        }),
      );
    }
    events.push('data: [DONE]\n\n');
    this.sse(res, events, stall);
  }
}

function json(res: ServerResponse, value: unknown) {
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(JSON.stringify(value));
}

function anthropicMessage(model: string) {
  return {
    id: 'msg_fake',
    type: 'message',
    role: 'assistant',
    model,
    content: [{ type: 'text', text: 'Hello from the fake provider' }],
    stop_reason: 'end_turn',
    stop_sequence: null,
    usage: { input_tokens: 12, output_tokens: 5 },
  };
}

function openaiCompletion(model: string) {
  return {
    id: 'chatcmpl-fake',
    object: 'chat.completion',
    created: 1_700_000_000,
    model,
    choices: [
      {
        index: 0,
        message: { role: 'assistant', content: 'Hello from the fake provider', refusal: null },
        finish_reason: 'stop',
        logprobs: null,
      },
    ],
    usage: { prompt_tokens: 9, completion_tokens: 5, total_tokens: 14 },
  };
}
