import { z } from 'zod';

import type { ErrorCode } from '../../http/errors.js';
import {
  contentSchema,
  gatewayModelSchema,
  MAX_CONTENT_CHARS,
  MAX_MESSAGES,
  maxTokensSchema,
  roleSchema,
} from './message-limits.js';
import { headerValue, tokenCount, type ProviderAdapter, type Usage } from './provider.js';

const requestSchema = z
  .looseObject({
    model: gatewayModelSchema,
    messages: z
      .array(z.looseObject({ role: roleSchema, content: contentSchema }))
      .min(1)
      .max(MAX_MESSAGES, `messages must contain at most ${MAX_MESSAGES} items`),
    max_tokens: maxTokensSchema,
    system: z.union([z.string().max(MAX_CONTENT_CHARS), z.array(z.looseObject({}))]).optional(),
    stream: z.boolean().optional(),
  })
  // The output contains only the fields the gateway reads. The forwarded body is the request body
  // itself, so copying every field here would be wasted work on each call.
  .transform((body) => ({
    model: body.model,
    stream: body.stream === true,
    maxTokens: body.max_tokens,
  }));

// Error `type` values of the Anthropic API by HTTP status.
const ERROR_TYPES: Readonly<Record<number, string>> = {
  400: 'invalid_request_error',
  401: 'authentication_error',
  403: 'permission_error',
  404: 'not_found_error',
  413: 'request_too_large',
  429: 'rate_limit_error',
  503: 'overloaded_error',
  504: 'timeout_error',
};

// Client headers that change how Anthropic interprets the request; everything else, and above
// all the client's own credentials, stays behind.
const FORWARDED_HEADERS = ['anthropic-version', 'anthropic-beta'] as const;

// Other client errors, such as 415, are invalid requests; other server errors are API errors.
function errorType(status: number): string {
  return ERROR_TYPES[status] ?? (status < 500 ? 'invalid_request_error' : 'api_error');
}

/** The Anthropic Messages API (`POST /v1/messages`). */
export const anthropicProvider: ProviderAdapter = {
  name: 'anthropic',
  requestSchema,

  upstreamUrl: (baseUrl) => `${baseUrl}/v1/messages`,

  upstreamHeaders(clientHeaders, key) {
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      accept: headerValue(clientHeaders.accept) ?? 'application/json',
      'anthropic-version': '2023-06-01',
      'x-api-key': key,
    };
    for (const name of FORWARDED_HEADERS) {
      const value = headerValue(clientHeaders[name]);
      if (value !== undefined) headers[name] = value;
    }
    return headers;
  },

  errorBody: (_code: ErrorCode, status, message) => ({
    type: 'error',
    error: { type: errorType(status), message },
  }),

  streamErrorEvent: (_code, message) =>
    `event: error\ndata: ${JSON.stringify({ type: 'error', error: { type: 'api_error', message } })}\n\n`,

  usageFromResponse(body) {
    const usage = (body as { usage?: Record<string, unknown> } | null)?.usage;
    return {
      inputTokens: tokenCount(usage?.input_tokens),
      outputTokens: tokenCount(usage?.output_tokens),
    };
  },

  // message_start carries input and initial output tokens; each message_delta carries the
  // cumulative output tokens so far.
  usageFromEvent(event, current): Usage {
    const value = event as {
      type?: string;
      message?: { usage?: Record<string, unknown> };
      usage?: Record<string, unknown>;
    };
    if (value?.type === 'message_start') {
      return {
        inputTokens: tokenCount(value.message?.usage?.input_tokens) ?? current.inputTokens,
        outputTokens: tokenCount(value.message?.usage?.output_tokens) ?? current.outputTokens,
      };
    }
    if (value?.type === 'message_delta') {
      return {
        inputTokens: tokenCount(value.usage?.input_tokens) ?? current.inputTokens,
        outputTokens: tokenCount(value.usage?.output_tokens) ?? current.outputTokens,
      };
    }
    return current;
  },
};
