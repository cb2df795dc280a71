import { z } from 'zod';

import { modelNameSchema } from '../../tenancy/projects/project.schema.js';

/** Limits on every chat request: at most 100 messages, 100,000 characters of content each. */
export const MAX_MESSAGES = 100;
export const MAX_CONTENT_CHARS = 100_000;
export const MAX_OUTPUT_TOKENS = 4096;

// The model is not trimmed here, because the name checked against the project's allow-list must
// be the exact string the gateway forwards to the provider.
export const gatewayModelSchema = z
  .string()
  .refine((model) => model === model.trim(), 'model must not start or end with whitespace')
  .pipe(modelNameSchema);

export const maxTokensSchema = z
  .number()
  .int('max_tokens must be an integer')
  .positive('max_tokens must be positive')
  .max(MAX_OUTPUT_TOKENS, `max_tokens must be at most ${MAX_OUTPUT_TOKENS}`);

export const roleSchema = z.enum(['user', 'assistant', 'system']);

/**
 * Characters of text in a message's content: a string, or the `text` of each content block.
 * Other block payloads (images, documents) are bounded by the body size limit instead.
 */
export function contentChars(content: unknown, depth = 0): number {
  if (typeof content === 'string') return content.length;
  // Nested blocks (tool results) are counted a few levels deep; deeper nesting counts as over
  // the limit rather than recursing without bound on hostile input.
  if (depth > 8) return Number.POSITIVE_INFINITY;
  if (!Array.isArray(content)) return 0;
  let total = 0;
  for (const block of content) {
    if (block && typeof block === 'object') {
      const text = (block as { text?: unknown }).text;
      if (typeof text === 'string') total += text.length;
      const nested = (block as { content?: unknown }).content;
      if (nested !== undefined) total += contentChars(nested, depth + 1);
    }
  }
  return total;
}

const contentBlockSchema = z.looseObject({ type: z.string().min(1).max(100) });

/** A message content: a string or a list of typed blocks, with its text length checked. */
export const contentSchema = z
  .union([z.string(), z.array(contentBlockSchema).max(1000)])
  .refine((content) => contentChars(content) <= MAX_CONTENT_CHARS, {
    message: `content must be at most ${MAX_CONTENT_CHARS} characters`,
  });
