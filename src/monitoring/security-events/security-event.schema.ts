import { z } from 'zod';

import { SECURITY_EVENT_KINDS } from './security-event.js';

// At most 15 digits, so every id converts to a JavaScript number exactly.
const idText = z
  .string()
  .regex(/^[1-9][0-9]{0,14}$/, 'must be a positive integer of at most 15 digits');

/** Query of `GET /api/v1/organizations/:orgId/security-events`. */
export const securityEventSearchSchema = z
  .strictObject({
    since: z.iso.datetime({ offset: true }).optional(),
    until: z.iso.datetime({ offset: true }).optional(),
    kind: z.enum(SECURITY_EVENT_KINDS).optional(),
    clientIp: z
      .union([z.ipv4(), z.ipv6()], { error: 'must be an IPv4 or IPv6 address' })
      .optional(),
    ruleId: z
      .string()
      .regex(/^[\x21-\x7e]{1,100}$/, 'must be 1 to 100 printable ASCII characters')
      .optional(),
    cursor: idText.optional(),
    limit: z.coerce.number().int().min(1).max(500).default(100),
  })
  .refine(
    (query) =>
      query.since === undefined ||
      query.until === undefined ||
      Date.parse(query.since) < Date.parse(query.until),
    { path: ['until'], message: 'must be later than since' },
  );

export type SecurityEventSearch = z.output<typeof securityEventSearchSchema>;
