import { z } from 'zod';

import { hasNoNulCharacter } from '../../http/validation.js';

/**
 * Roles a member can request just in time. The owner role is never granted this way: an owner
 * is made only through the organization's membership, and owners use break-glass access.
 */
export const REQUESTABLE_ROLES = ['admin', 'security_admin', 'auditor', 'member'] as const;

const reasonSchema = z
  .string()
  .trim()
  .min(10, 'Give a reason of at least 10 characters')
  .max(1000)
  .refine(hasNoNulCharacter, 'Reason must not contain NUL characters');

const noteSchema = z
  .string()
  .trim()
  .max(1000)
  .refine(hasNoNulCharacter, 'Note must not contain NUL characters');

const minutesSchema = z.number().int().min(1);

export const accessRequestSchema = z.strictObject({
  role: z.enum(REQUESTABLE_ROLES),
  reason: reasonSchema,
  /** Bounded by JIT_MAX_DURATION_HOURS, which the service checks. */
  durationMinutes: minutesSchema,
});

export const accessDecisionSchema = z.strictObject({ note: noteSchema.optional() });

export const breakGlassSchema = z.strictObject({
  reason: reasonSchema,
  /** Bounded by BREAK_GLASS_DURATION_MINUTES, which is also the default. */
  durationMinutes: minutesSchema.optional(),
});

export const grantPathSchema = z.object({ orgId: z.uuid(), grantId: z.uuid() });

export type AccessRequestInput = z.infer<typeof accessRequestSchema>;
export type BreakGlassInput = z.infer<typeof breakGlassSchema>;
