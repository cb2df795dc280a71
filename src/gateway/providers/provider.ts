import type { z } from 'zod';

import type { ErrorCode } from '../../http/errors.js';

/** Token counts of one call, as reported by the provider; null when it did not report them. */
export interface Usage {
  inputTokens: number | null;
  outputTokens: number | null;
}

/** The request fields the gateway's policy reads. The request body itself is forwarded. */
export interface ParsedCall {
  model: string;
  stream: boolean;
  /** The worst-case output tokens of this call, for limits. */
  maxTokens: number;
}

/**
 * One provider API the gateway speaks: how its requests are validated, how the upstream call
 * is built, where it reports usage and what its errors look like.
 */
export interface ProviderAdapter {
  readonly name: 'anthropic' | 'openai';
  /** Validates a request body against the gateway's limits; unknown fields pass through. */
  readonly requestSchema: z.ZodType<ParsedCall & Record<string, unknown>>;
  /** The upstream URL for a chat call, from the configured base URL. */
  upstreamUrl(baseUrl: string): string;
  /** Headers for the upstream call: the provider key and the allow-listed client headers. */
  upstreamHeaders(
    clientHeaders: Record<string, string | string[] | undefined>,
    key: string,
  ): Record<string, string>;
  /** The provider's JSON error body for a gateway error. */
  errorBody(code: ErrorCode, status: number, message: string): unknown;
  /** An SSE error event that ends a stream the gateway has to cut short. */
  streamErrorEvent(code: ErrorCode, message: string): string;
  /** Usage from a complete JSON response. */
  usageFromResponse(body: unknown): Usage;
  /** Usage after one streamed event, merged into what earlier events reported. */
  usageFromEvent(event: unknown, current: Usage): Usage;
}

/** Picks the first string of a header that may repeat. */
export function headerValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

/** A non-negative integer from an untrusted field, or null. */
export function tokenCount(value: unknown): number | null {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0 ? value : null;
}
