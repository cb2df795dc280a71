import { z } from 'zod';

import type { ErrorCode } from '../../http/errors.js';
import {
  contentSchema,
  gatewayModelSchema,
  MAX_MESSAGES,
  MAX_OUTPUT_TOKENS,
  maxTokensSchema,
} from './message-limits.js';
import { headerValue, tokenCount, type ProviderAdapter } from './provider.js';

// `tool` messages carry tool results; the legacy `function` role is rejected, because its
// results name no call id that tool approval could check.
const roleSchema = z.enum(['system', 'developer', 'user', 'assistant', 'tool']);

const requestSchema = z
  .looseObject({
    model: gatewayModelSchema,
    messages: z
      .array(z.looseObject({ role: roleSchema, content: contentSchema.nullable().optional() }))
      .min(1)
      .max(MAX_MESSAGES, `messages must contain at most ${MAX_MESSAGES} items`),
    max_tokens: maxTokensSchema.optional(),
    max_completion_tokens: maxTokensSchema.optional(),
    stream: z.boolean().nullable().optional(),
  })
  // Without a limit in the request the provider may generate up to the model's maximum, so
  // the worst case counted for limits is the gateway's own maximum.
  .transform((body) => ({
    model: body.model,
    stream: body.stream === true,
    maxTokens: body.max_completion_tokens ?? body.max_tokens ?? MAX_OUTPUT_TOKENS,
  }));

// OpenAI error `type` and `code` values by HTTP status.
const ERROR_SHAPES: Readonly<Record<number, { type: string; code: string | null }>> = {
  400: { type: 'invalid_request_error', code: null },
  401: { type: 'invalid_request_error', code: 'invalid_api_key' },
  403: { type: 'invalid_request_error', code: null },
  404: { type: 'invalid_request_error', code: 'not_found' },
  413: { type: 'invalid_request_error', code: 'request_too_large' },
  429: { type: 'requests', code: 'rate_limit_exceeded' },
};

/** The OpenAI Chat Completions API (`POST /v1/chat/completions`). */
export const openaiProvider: ProviderAdapter = {
  name: 'openai',
  requestSchema,

  upstreamUrl: (baseUrl) => `${baseUrl}/chat/completions`,

  upstreamHeaders(clientHeaders, key) {
    return {
      'content-type': 'application/json',
      accept: headerValue(clientHeaders.accept) ?? 'application/json',
      authorization: `Bearer ${key}`,
    };
  },

  errorBody(code: ErrorCode, status, message) {
    const shape = ERROR_SHAPES[status] ?? {
      type: status < 500 ? 'invalid_request_error' : 'server_error',
      code: null,
    };
    return { error: { message, type: shape.type, param: null, code: shape.code ?? code } };
  },

  streamErrorEvent: (code, message) =>
    `data: ${JSON.stringify({ error: { message, type: 'server_error', param: null, code } })}\n\n`,

  usageFromResponse(body) {
    const usage = (body as { usage?: Record<string, unknown> } | null)?.usage;
    return {
      inputTokens: tokenCount(usage?.prompt_tokens),
      outputTokens: tokenCount(usage?.completion_tokens),
    };
  },

  // Usage arrives in the last chunk when the client asked for it with stream_options.
  usageFromEvent(event, current) {
    const usage = (event as { usage?: Record<string, unknown> | null } | null)?.usage;
    if (!usage) return current;
    return {
      inputTokens: tokenCount(usage.prompt_tokens) ?? current.inputTokens,
      outputTokens: tokenCount(usage.completion_tokens) ?? current.outputTokens,
    };
  },
};
