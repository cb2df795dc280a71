import type { FastifyPluginAsync } from 'fastify';
import type { z } from 'zod';

import type { Database } from '../../data/database/database.js';
import { inTenant } from '../../data/database/tenant-scope.js';
import { AppError } from '../../http/errors.js';
import { orgPath } from '../../http/params.js';
import { parseOrThrow } from '../../http/validation.js';
import { MAIN_LOG } from './audit.repository.js';
import type { AuditCheckpointer } from './audit-checkpointer.js';
import { auditEntryView } from './audit-entry.view.js';
import { exportAuditEntries } from './audit-export.service.js';
import {
  consistencyProofBetween,
  inclusionProofFor,
  signedCheckpoint,
} from './audit-proof.service.js';
import { searchAuditEntries, type AuditFilter } from './audit-query.repository.js';
import {
  auditExportSchema,
  auditSearchSchema,
  consistencyQuerySchema,
  inclusionQuerySchema,
  seqParamsSchema,
} from './audit.schema.js';
import { verifierKeyString, type AuditSigningKey } from './signing-key.js';

export interface AuditRouteOptions {
  db: Database;
  checkpointer: AuditCheckpointer;
  signingKey: AuditSigningKey;
}

const date = (value: string | undefined) => (value === undefined ? undefined : new Date(value));

/** The search filters shared by listing and export, from validated query fields. */
function filterOf(orgId: string, query: z.output<typeof auditExportSchema>): AuditFilter {
  return {
    orgId,
    from: date(query.from),
    to: date(query.to),
    actorId: query.actorId,
    action: query.action,
    resourceType: query.resourceType,
    resourceId: query.resourceId,
    projectId: query.projectId,
  };
}

/** Reading the audit log: search, proofs, checkpoints and verifiable exports. */
export const auditRoutes: FastifyPluginAsync<AuditRouteOptions> = async (app, options) => {
  const { db } = options;
  const readAudit = {
    config: { security: { auth: 'session', permission: 'audit.read' } },
  } as const;

  app.get('/api/v1/organizations/:orgId/audit', readAudit, async (request) => {
    const { orgId } = orgPath(request.params);
    const query = parseOrThrow(auditSearchSchema, request.query);
    const filter = {
      ...filterOf(orgId, query),
      beforeSeq: query.cursor === undefined ? undefined : Number(query.cursor),
    };
    const { entries, data } = await inTenant(db, orgId, async (tx) => {
      const found = await searchAuditEntries(tx, filter, query.limit + 1);
      const views = [];
      for (const entry of found.slice(0, query.limit)) views.push(await auditEntryView(tx, entry));
      return { entries: found, data: views };
    });
    const page = entries.slice(0, query.limit);
    const more = entries.length > query.limit;
    return { data, nextCursor: more ? String(page.at(-1)?.seq) : null };
  });

  app.get('/api/v1/organizations/:orgId/audit/export', readAudit, async (request, reply) => {
    const { orgId } = orgPath(request.params);
    const query = parseOrThrow(auditExportSchema, request.query);
    await options.checkpointer.sign();
    const filter = {
      ...filterOf(orgId, query),
      afterSeq: query.afterSeq === undefined ? undefined : Number(query.afterSeq),
      limit: query.limit,
    };
    const lines = await inTenant(db, orgId, (tx) =>
      exportAuditEntries(tx, options.signingKey, filter),
    );
    return reply
      .header('content-type', 'application/x-ndjson; charset=utf-8')
      .header('content-disposition', 'attachment; filename="audit-export.jsonl"')
      .send(lines.map((line) => JSON.stringify(line)).join('\n') + '\n');
  });

  app.get('/api/v1/organizations/:orgId/audit/:seq/proof', readAudit, async (request) => {
    const params = seqParamsSchema.safeParse(request.params);
    if (!params.success) throw new AppError('not_found');
    const query = parseOrThrow(inclusionQuerySchema, request.query);
    const seq = Number(params.data.seq);
    // Row-level security shows the entry only when it belongs to the organization; the proof
    // itself covers the whole chain and is built outside the tenant scope.
    const owner = await inTenant(db, params.data.orgId, (tx) =>
      tx.query<{ orgId: string | null }>(
        'SELECT org_id AS "orgId" FROM audit_logs WHERE org_id = $1 AND log_id = $2 AND seq = $3',
        [params.data.orgId, MAIN_LOG, seq],
      ),
    );
    if (owner.rows[0]?.orgId !== params.data.orgId) throw new AppError('not_found');
    const treeSize = query.treeSize === undefined ? undefined : Number(query.treeSize);
    if (treeSize === undefined) await options.checkpointer.sign();
    return inclusionProofFor(db, MAIN_LOG, seq, treeSize);
  });

  const signedIn = { config: { security: { auth: 'session' } } } as const;

  app.get('/api/v1/audit/checkpoints/latest', signedIn, async () => {
    const checkpoint = await signedCheckpoint(db, MAIN_LOG);
    return {
      logId: MAIN_LOG,
      treeSize: checkpoint.treeSize,
      rootHash: checkpoint.rootHash.toString('hex'),
      signedNote: checkpoint.signedNote,
      verifierKey: verifierKeyString(options.signingKey),
      createdAt: checkpoint.createdAt.toISOString(),
    };
  });

  app.get('/api/v1/audit/proofs/consistency', signedIn, async (request) => {
    const query = parseOrThrow(consistencyQuerySchema, request.query);
    return consistencyProofBetween(db, MAIN_LOG, Number(query.from), Number(query.to));
  });
};
