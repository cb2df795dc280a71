import type { FastifyReply, FastifyRequest } from 'fastify';

import type { ErrorCode } from '../../http/errors.js';
import { GatewayError } from '../gateway-error.js';
import type { ParsedCall, ProviderAdapter, Usage } from '../providers/provider.js';
import { headerValue } from '../providers/provider.js';
import type { UpstreamClient, UpstreamResponse } from '../upstream/upstream-client.js';
import { toGatewayError } from '../upstream/upstream-client.js';
import type { StreamToolCollector } from '../tools/tool-protocol.js';
import { SseUsageTap, type StreamTokenBudget } from './sse-usage-tap.js';

/** Largest non-streamed upstream response the gateway buffers: 32 MiB. */
const MAX_RESPONSE_BYTES = 32 * 1024 * 1024;

/** Outcome of a forwarded call, for the call record. */
export interface CallOutcome {
  status: number;
  /** An error code, or `client_disconnected` when the client left before the end. */
  errorCode: ErrorCode | 'client_disconnected' | null;
  usage: Usage;
}

export interface ForwardOptions {
  provider: ProviderAdapter;
  upstream: UpstreamClient;
  url: string;
  providerKey: string;
  call: ParsedCall & Record<string, unknown>;
  /** Tokens held for a streamed call; the stream ends with an error event past them. */
  tokenBudget?: StreamTokenBudget;
  /** Collects the tool calls of a streamed response. */
  toolCollector?: StreamToolCollector;
  /** Runs when a streamed response has been relayed, before it ends. */
  beforeStreamEnd?: () => Promise<void>;
  /** Receives a successful non-streamed response body before it is sent; may set headers. */
  beforeSend?: (body: unknown) => Promise<void>;
}

/** Drops an upstream body; the abort error that undici emits on destroy is expected. */
function discard(body: UpstreamResponse['body']): void {
  body.on('error', () => undefined);
  body.destroy();
}

async function readBody(body: UpstreamResponse['body']): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    size += (chunk as Buffer).length;
    if (size > MAX_RESPONSE_BYTES) {
      discard(body);
      throw new GatewayError('upstream_error', 'The model provider response is too large');
    }
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

/**
 * Serializes the validated body for the provider. JSON.parse accepts nesting deeper than
 * JSON.stringify can recurse, so such a body is a client error, not a server failure.
 */
function serializeBody(body: unknown): string {
  try {
    return JSON.stringify(body);
  } catch (error) {
    if (error instanceof RangeError) {
      throw new GatewayError('validation_failed', 'Request body is nested too deeply');
    }
    throw error;
  }
}

function parseJson(bytes: Buffer): unknown {
  try {
    return JSON.parse(bytes.toString('utf8'));
  } catch {
    return undefined;
  }
}

/**
 * The provider rejected MindWeave's own credentials or permissions. Passing its 401 or 403 on
 * would tell the client that the client's key is wrong, so it becomes a 502.
 */
function credentialFailure(status: number): GatewayError | null {
  if (status !== 401 && status !== 403) return null;
  return new GatewayError(
    'upstream_error',
    `The model provider rejected the gateway's provider credentials (HTTP ${status})`,
  );
}

/**
 * Returns true when the client closed its connection before the provider call started. Its
 * 'close' event has already fired then, so a listener added now would never cancel the call.
 */
function clientGone(reply: FastifyReply): boolean {
  // The request stream is not checked, because Node 20 destroys it once its body has been read.
  return reply.raw.destroyed;
}

/**
 * Sends the call upstream and relays the response: buffered JSON for plain calls, server-sent
 * events byte for byte for streamed ones. A client that disconnects aborts the upstream call.
 * The original body is forwarded as validated; the client's headers are not, apart from the
 * provider's allow-list, and the provider key replaces the client's key.
 */
export async function forwardCall(
  request: FastifyRequest,
  reply: FastifyReply,
  options: ForwardOptions,
): Promise<CallOutcome> {
  const { provider, call } = options;
  const headers = provider.upstreamHeaders(request.headers, options.providerKey);
  const body = serializeBody(request.body);
  if (!call.stream) return forwardBuffered(reply, options, headers, body);

  const abort = new AbortController();
  reply.raw.on('close', () => {
    if (!reply.raw.writableFinished) abort.abort();
  });
  if (clientGone(reply)) abort.abort();
  const upstream = await options.upstream.send(options.url, {
    headers,
    body,
    signal: abort.signal,
  });

  const denied = credentialFailure(upstream.status);
  if (denied) {
    discard(upstream.body);
    throw denied;
  }

  const contentType = relayHeaders(reply, upstream.status, upstream.headers);
  const streamed = upstream.status < 300 && contentType.startsWith('text/event-stream');
  if (!streamed) {
    const bytes = await readBody(upstream.body).catch((error: unknown) => {
      throw toGatewayError(error);
    });
    return sendBufferedReply(reply, options, upstream.status, bytes);
  }

  return relayStream(reply, upstream, provider, abort.signal, options);
}

/**
 * Copies the status, content type and retry-after of the provider's response to the reply, and
 * returns the content type.
 */
function relayHeaders(
  reply: FastifyReply,
  status: number,
  headers: Record<string, string | string[] | undefined>,
): string {
  const contentType = headerValue(headers['content-type']) ?? 'application/json';
  const retryAfter = headerValue(headers['retry-after']);
  if (retryAfter) reply.header('retry-after', retryAfter);
  reply.code(status).header('content-type', contentType);
  return contentType;
}

/**
 * Forwards a call that did not ask for a stream. The response is read whole through the
 * client's buffered path, which costs less per call than a response stream.
 */
async function forwardBuffered(
  reply: FastifyReply,
  options: ForwardOptions,
  headers: Record<string, string>,
  body: string,
): Promise<CallOutcome> {
  const upstream = await options.upstream.sendBuffered(options.url, {
    headers,
    body,
    maxBytes: MAX_RESPONSE_BYTES,
    onStart: (call) => {
      reply.raw.on('close', () => {
        if (!reply.raw.writableFinished) call.cancel();
      });
      if (clientGone(reply)) call.cancel();
    },
  });

  const denied = credentialFailure(upstream.status);
  if (denied) throw denied;

  relayHeaders(reply, upstream.status, upstream.headers);
  return sendBufferedReply(reply, options, upstream.status, upstream.body);
}

/** Sends a buffered provider response to the client and reads the usage it reports. */
async function sendBufferedReply(
  reply: FastifyReply,
  options: ForwardOptions,
  status: number,
  bytes: Buffer,
): Promise<CallOutcome> {
  const parsed = parseJson(bytes);
  if (options.beforeSend && status < 300) await options.beforeSend(parsed);
  await reply.send(bytes);
  const usage = options.provider.usageFromResponse(parsed);
  return { status, errorCode: null, usage };
}

async function relayStream(
  reply: FastifyReply,
  upstream: UpstreamResponse,
  provider: ProviderAdapter,
  clientGone: AbortSignal,
  options: Pick<ForwardOptions, 'tokenBudget' | 'toolCollector' | 'beforeStreamEnd'>,
): Promise<CallOutcome> {
  const tap = new SseUsageTap(
    provider,
    options.tokenBudget,
    options.toolCollector,
    options.beforeStreamEnd,
  );
  tap.once('budgetExhausted', () => {
    // The error event has been written; stop reading from the provider and end the reply.
    upstream.body.unpipe(tap);
    discard(upstream.body);
    tap.end();
  });
  reply.header('cache-control', 'no-cache').header('x-accel-buffering', 'no');

  let errorCode: CallOutcome['errorCode'] = null;
  upstream.body.on('error', (error) => {
    // The status line has gone out, so a failure mid-stream becomes an error event.
    const failure = toGatewayError(error);
    errorCode = clientGone.aborted ? 'client_disconnected' : failure.code;
    if (!tap.writableEnded && !reply.raw.destroyed) {
      tap.end(provider.streamErrorEvent(failure.code, failure.message));
    }
  });
  upstream.body.pipe(tap);

  await reply.send(tap);
  await new Promise<void>((resolve) => {
    if (reply.raw.writableFinished || reply.raw.destroyed) resolve();
    else reply.raw.once('close', resolve);
  });
  if (!reply.raw.writableFinished) errorCode ??= 'client_disconnected';
  if (tap.budgetExhausted) errorCode = 'rate_limited';
  return { status: upstream.status, errorCode, usage: tap.usage };
}
