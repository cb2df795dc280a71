import type { Readable } from 'node:stream';

import { Agent, errors as undiciErrors, request } from 'undici';

import { GatewayError } from '../gateway-error.js';

/** An upstream response whose body the caller must consume or destroy. */
export interface UpstreamResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Readable;
}

/** Sends requests to the model providers. */
export interface UpstreamClient {
  send(
    url: string,
    init: { headers: Record<string, string>; body: string; signal: AbortSignal },
  ): Promise<UpstreamResponse>;
  close(): Promise<void>;
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
