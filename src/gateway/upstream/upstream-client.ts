import type { Readable } from 'node:stream';

import { Agent, errors as undiciErrors, request, type Dispatcher } from 'undici';

import { GatewayError } from '../gateway-error.js';

type ResponseHeaders = Record<string, string | string[] | undefined>;

/** An upstream response whose body the caller must consume or destroy. */
export interface UpstreamResponse {
  status: number;
  headers: ResponseHeaders;
  body: Readable;
}

/** An upstream response read to its end. */
export interface BufferedUpstreamResponse {
  status: number;
  headers: ResponseHeaders;
  body: Buffer;
}

/** Headers and body of a request to a provider. */
export interface UpstreamRequest {
  headers: Record<string, string>;
  body: string;
}

/** Handle that aborts a buffered call under way, used when the client has gone. */
export interface UpstreamCancel {
  cancel(): void;
}

/** Sends requests to the model providers. */
export interface UpstreamClient {
  send(url: string, init: UpstreamRequest & { signal: AbortSignal }): Promise<UpstreamResponse>;
  /**
   * Sends a request and reads the whole response body, up to `maxBytes`. A larger body fails
   * with `upstream_error`. `onStart` receives a handle that aborts the call.
   */
  sendBuffered(
    url: string,
    init: UpstreamRequest & { maxBytes: number; onStart?: (call: UpstreamCancel) => void },
  ): Promise<BufferedUpstreamResponse>;
  close(): Promise<void>;
}

/** Cache size for the parsed provider URLs. They come from the config, so there are few. */
const MAX_CACHED_TARGETS = 64;

/**
 * Collects a response body in memory through undici's dispatch interface. It skips the stream
 * and abort-signal objects that `request()` creates for each call, which a buffered call does
 * not need.
 */
class BufferingHandler implements Dispatcher.DispatchHandler, UpstreamCancel {
  #controller: Dispatcher.DispatchController | null = null;
  #cancelled = false;
  #status = 0;
  #headers: ResponseHeaders = {};
  #chunks: Buffer[] = [];
  #size = 0;

  constructor(
    private readonly maxBytes: number,
    private readonly resolve: (response: BufferedUpstreamResponse) => void,
    private readonly reject: (error: GatewayError) => void,
  ) {}

  cancel(): void {
    this.#cancelled = true;
    this.#controller?.abort(new undiciErrors.RequestAbortedError());
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.#controller = controller;
    // A client that left while the call waited for a connection.
    if (this.#cancelled) controller.abort(new undiciErrors.RequestAbortedError());
  }

  onResponseStart(
    _controller: Dispatcher.DispatchController,
    statusCode: number,
    headers: ResponseHeaders,
  ): void {
    this.#status = statusCode;
    this.#headers = headers;
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    this.#size += chunk.length;
    if (this.#size > this.maxBytes) {
      this.#chunks = [];
      controller.abort(
        new GatewayError('upstream_error', 'The model provider response is too large'),
      );
      return;
    }
    this.#chunks.push(chunk);
  }

  onResponseEnd(): void {
    const body =
      this.#chunks.length === 1 ? (this.#chunks[0] as Buffer) : Buffer.concat(this.#chunks);
    this.resolve({ status: this.#status, headers: this.#headers, body });
  }

  onResponseError(_controller: Dispatcher.DispatchController, error: Error): void {
    this.reject(toGatewayError(error));
  }
}

/**
 * Creates the HTTP client for provider calls: one keep-alive connection pool per origin, a
 * timeout for the response headers and for each gap between body chunks. Failures are
 * {@link GatewayError}s: `upstream_timeout` (504) or `upstream_unreachable` (502).
 */
export function createUpstreamClient(options: { timeoutMs: number }): UpstreamClient {
  const agent = new Agent({
    keepAliveTimeout: 30_000,
    connections: 256,
    headersTimeout: options.timeoutMs,
    bodyTimeout: options.timeoutMs,
  });
  const targets = new Map<string, { origin: string; path: string }>();
  const targetOf = (url: string): { origin: string; path: string } => {
    let target = targets.get(url);
    if (!target) {
      const parsed = new URL(url);
      target = { origin: parsed.origin, path: `${parsed.pathname}${parsed.search}` };
      if (targets.size >= MAX_CACHED_TARGETS) targets.clear();
      targets.set(url, target);
    }
    return target;
  };

  return {
    async send(url, init) {
      try {
        const response = await request(url, {
          method: 'POST',
          dispatcher: agent,
          headers: init.headers,
          body: init.body,
          signal: init.signal,
        });
        return {
          status: response.statusCode,
          headers: response.headers,
          body: response.body,
        };
      } catch (error) {
        throw toGatewayError(error);
      }
    },
    sendBuffered(url, init) {
      return new Promise<BufferedUpstreamResponse>((resolve, reject) => {
        const handler = new BufferingHandler(init.maxBytes, resolve, reject);
        init.onStart?.(handler);
        const { origin, path } = targetOf(url);
        agent.dispatch(
          { origin, path, method: 'POST', headers: init.headers, body: init.body },
          handler,
        );
      });
    },
    close: () => agent.close(),
  };
}

/** Maps a transport failure to the gateway error the client sees. */
export function toGatewayError(error: unknown): GatewayError {
  if (error instanceof GatewayError) return error;
  if (
    error instanceof undiciErrors.HeadersTimeoutError ||
    error instanceof undiciErrors.BodyTimeoutError ||
    error instanceof undiciErrors.ConnectTimeoutError
  ) {
    return new GatewayError('upstream_timeout');
  }
  return new GatewayError('upstream_unreachable');
}
