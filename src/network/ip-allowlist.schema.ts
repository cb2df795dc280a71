import { z } from 'zod';

import { hasNoNulCharacter } from '../http/validation.js';
import { addressRangeSchema } from './address-range.js';
import { ALLOWLIST_SURFACES } from './ip-allowlist.repository.js';

/** Most ranges one surface's list may hold. */
export const MAX_ALLOWLIST_ENTRIES = 200;

export const allowlistPathSchema = z.object({
  orgId: z.uuid(),
  surface: z.enum(ALLOWLIST_SURFACES),
});

/** The whole new list of one surface; an empty list lifts the restriction. */
export const replaceAllowlistSchema = z.strictObject({
  entries: z
    .array(
      z.strictObject({
        cidr: addressRangeSchema,
        description: z
          .string()
          .trim()
          .max(200)
          .refine(hasNoNulCharacter, 'Description must not contain NUL characters')
          .optional(),
      }),
    )
    .max(MAX_ALLOWLIST_ENTRIES)
    .refine(
      (entries) => new Set(entries.map((entry) => entry.cidr)).size === entries.length,
      'Each range may appear only once',
    ),
});
