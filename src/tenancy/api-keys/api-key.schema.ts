import { z } from 'zod';

import { API_KEY_SCOPES } from '../../application/authorization/api-key-scopes.js';
import { hasNoNulCharacter } from '../../http/validation.js';

/** Maximum overlap of a rotation: the old key works at most 7 days after rotation. */
export const MAX_ROTATION_OVERLAP_SECONDS = 7 * 24 * 60 * 60;

/** Overlap of a rotation that names none: one hour. */
export const DEFAULT_ROTATION_OVERLAP_SECONDS = 60 * 60;

const futureDate = z.iso
  .datetime({ offset: true })
  .transform((value) => new Date(value))
  .refine((date) => date.getTime() > Date.now(), 'expiresAt must be in the future');

const limitSchema = z.int().min(1).max(1_000_000_000).nullable().optional();

export const createApiKeySchema = z.strictObject({
  name: z
    .string()
    .trim()
    .min(1)
    .max(100)
    .refine(hasNoNulCharacter, 'Name must not contain NUL characters'),
  expiresAt: futureDate.optional(),
  scopes: z
    .array(z.enum(API_KEY_SCOPES))
    .min(1)
    .max(API_KEY_SCOPES.length)
    .refine((scopes) => new Set(scopes).size === scopes.length, 'Scopes must not repeat')
    .optional(),
  /** Requests per request window; at most the server's per-key limit counts. */
  requestLimit: limitSchema,
  /** Input plus output tokens per token window; at most the server's per-key limit counts. */
  tokenLimit: limitSchema,
});

export type CreateApiKeyInput = z.infer<typeof createApiKeySchema>;

export const rotateApiKeySchema = z.strictObject({
  /** How long the old key keeps working, in seconds; 0 ends it at once. */
  overlapSeconds: z.int().min(0).max(MAX_ROTATION_OVERLAP_SECONDS).optional(),
  /** Expiry of the new key; by default it keeps the old key's expiry. */
  expiresAt: futureDate.optional(),
});

export type RotateApiKeyInput = z.infer<typeof rotateApiKeySchema>;
