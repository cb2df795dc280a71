import { z } from 'zod';

import { AppError } from '../../http/errors.js';

/** Providers whose keys an organization can store. */
export const PROVIDER_NAMES = ['anthropic', 'openai'] as const;

export type ProviderName = (typeof PROVIDER_NAMES)[number];

/** Shortest and longest provider key accepted, in characters. */
export const MIN_PROVIDER_KEY_LENGTH = 8;
export const MAX_PROVIDER_KEY_LENGTH = 512;

// Printable ASCII without spaces: what both providers issue, and safe in an HTTP header.
const PRINTABLE_ASCII = /^[\x21-\x7e]+$/;

/** Body of `PUT .../provider-keys/:provider`. Messages never include the submitted value. */
export const putProviderKeySchema = z.strictObject({
  apiKey: z
    .string()
    .min(MIN_PROVIDER_KEY_LENGTH, `apiKey must have at least ${MIN_PROVIDER_KEY_LENGTH} characters`)
    .max(MAX_PROVIDER_KEY_LENGTH, `apiKey must have at most ${MAX_PROVIDER_KEY_LENGTH} characters`)
    .regex(PRINTABLE_ASCII, 'apiKey must be printable ASCII without spaces'),
});

export type PutProviderKeyInput = z.infer<typeof putProviderKeySchema>;

const providerPathSchema = z.object({ orgId: z.uuid(), provider: z.enum(PROVIDER_NAMES) });

/** Parses `:orgId` and `:provider`. A malformed id or unknown provider raises `not_found` (404). */
export function providerKeyPath(params: unknown): z.output<typeof providerPathSchema> {
  const result = providerPathSchema.safeParse(params);
  if (!result.success) throw new AppError('not_found');
  return result.data;
}
