import { z } from 'zod';

import { hasNoNulCharacter } from '../../http/validation.js';

// At most 15 digits, so every value converts to a JavaScript number exactly.
const seqText = z
  .string()
  .regex(/^[1-9][0-9]{0,14}$/, 'must be a positive integer of at most 15 digits');

const text = (max: number) =>
  z.string().min(1).max(max).refine(hasNoNulCharacter, 'must not contain NUL characters');

export const auditSearchSchema = z.strictObject({
  from: z.iso.datetime({ offset: true }).optional(),
  to: z.iso.datetime({ offset: true }).optional(),
  actorId: z.uuid().optional(),
  action: text(100).optional(),
  resourceType: text(50).optional(),
  resourceId: z.uuid().optional(),
  projectId: z.uuid().optional(),
  cursor: seqText.optional(),
  limit: z.coerce.number().int().min(1).max(500).default(100),
});

export const auditExportSchema = auditSearchSchema.omit({ cursor: true, limit: true }).extend({
  afterSeq: seqText.optional(),
  limit: z.coerce.number().int().min(1).max(10_000).default(10_000),
});

export const inclusionQuerySchema = z.strictObject({ treeSize: seqText.optional() });

export const consistencyQuerySchema = z.strictObject({ from: seqText, to: seqText });

export const seqParamsSchema = z.object({ orgId: z.uuid(), seq: seqText });
