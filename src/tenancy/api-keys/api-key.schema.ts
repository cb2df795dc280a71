import { z } from 'zod';

export const createApiKeySchema = z.strictObject({
  name: z.string().trim().min(1).max(100),
  expiresAt: z.iso
    .datetime({ offset: true })
    .transform((value) => new Date(value))
    .refine((date) => date.getTime() > Date.now(), 'expiresAt must be in the future')
    .optional(),
});

export type CreateApiKeyInput = z.infer<typeof createApiKeySchema>;
