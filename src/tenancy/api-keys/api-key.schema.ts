import { z } from 'zod';

import { hasNoNulCharacter } from '../../http/validation.js';

export const createApiKeySchema = z.strictObject({
  name: z
    .string()
    .trim()
    .min(1)
    .max(100)
    .refine(hasNoNulCharacter, 'Name must not contain NUL characters'),
  expiresAt: z.iso
    .datetime({ offset: true })
    .transform((value) => new Date(value))
    .refine((date) => date.getTime() > Date.now(), 'expiresAt must be in the future')
    .optional(),
});

export type CreateApiKeyInput = z.infer<typeof createApiKeySchema>;
