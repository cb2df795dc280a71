import { z } from 'zod';

const seqText = z.string().regex(/^[1-9][0-9]{0,15}$/, 'must be a positive integer');

export const auditSearchSchema = z.strictObject({
  from: z.iso.datetime({ offset: true }).optional(),
  to: z.iso.datetime({ offset: true }).optional(),
  actorId: z.uuid().optional(),
  action: z.string().min(1).max(100).optional(),
  resourceType: z.string().min(1).max(50).optional(),
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
