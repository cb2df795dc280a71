import type { FastifyPluginAsync } from 'fastify';
import { z } from 'zod';

import type { Database } from '../../data/database/database.js';
import { inTenant } from '../../data/database/tenant-scope.js';
import { sessionActor } from '../../http/actor.js';
import { AppError } from '../../http/errors.js';
import { projectPath } from '../../http/params.js';
import { requestContext } from '../../http/request-context.hook.js';
import { hasNoNulCharacter, parseOrThrow } from '../../http/validation.js';
import { buildAuditRecord } from '../../monitoring/audit/audit-entry.js';
import { appendAuditRecords } from '../../monitoring/audit/audit.repository.js';
import { findProject } from '../../tenancy/projects/project.repository.js';
import { decideCall, findCall, listCalls, type ToolCallApproval } from './tool-call.repository.js';

const BASE = '/api/v1/organizations/:orgId/projects/:projectId/tool-calls';

const listQuerySchema = z.strictObject({
  status: z.enum(['pending', 'approved', 'denied']).optional(),
  limit: z.coerce.number().int().min(1).max(200).default(50),
  before: z.iso.datetime({ offset: true }).optional(),
});

const decisionSchema = z
  .strictObject({
    reason: z
      .string()
      .trim()
      .min(1)
      .max(500)
      .refine(hasNoNulCharacter, 'Invalid character')
      .optional(),
  })
  .optional();

const callParams = z.object({ callId: z.uuid() });

const view = (call: ToolCallApproval) => ({
  id: call.id,
  projectId: call.projectId,
  apiKeyId: call.apiKeyId,
  provider: call.provider,
  toolCallId: call.toolCallId,
  toolName: call.toolName,
  argumentsDigest: call.argumentsDigest,
  status: call.status,
  requestId: call.requestId,
  requestedAt: call.requestedAt.toISOString(),
  decidedAt: call.decidedAt?.toISOString() ?? null,
  decidedBy: call.decidedBy,
  decisionReason: call.decisionReason,
});

/**
 * Tool calls held for approval: list them, and approve or deny one. A decision is final, and
 * approves exactly the recorded call (its id, tool and arguments digest).
 */
export const toolCallRoutes: FastifyPluginAsync<{ db: Database }> = async (app, { db }) => {
  app.get(
    BASE,
    {
      config: { security: { auth: 'session', permission: 'tool_call.read', resource: 'project' } },
    },
    async (request) => {
      const { orgId, projectId } = projectPath(request.params);
      const query = parseOrThrow(listQuerySchema, request.query);
      const calls = await inTenant(db, orgId, async (tx) => {
        if (!(await findProject(tx, orgId, projectId))) throw new AppError('not_found');
        return listCalls(tx, {
          orgId,
          projectId,
          status: query.status,
          limit: query.limit,
          before: query.before ? new Date(query.before) : undefined,
        });
      });
      return { data: calls.map(view) };
    },
  );

  for (const [verb, status] of [
    ['approve', 'approved'],
    ['deny', 'denied'],
  ] as const) {
    app.post(
      `${BASE}/:callId/${verb}`,
      {
        config: {
          security: { auth: 'session', permission: 'tool_call.approve', resource: 'project' },
        },
      },
      async (request) => {
        const { orgId, projectId } = projectPath(request.params);
        const parsedId = callParams.safeParse(request.params);
        if (!parsedId.success) throw new AppError('not_found');
        const input = parseOrThrow(decisionSchema, request.body ?? undefined);
        const actor = sessionActor(request);
        const decided = await inTenant(db, orgId, async (tx) => {
          const call = await decideCall(tx, {
            orgId,
            projectId,
            id: parsedId.data.callId,
            status,
            decidedBy: actor.id,
            reason: input?.reason ?? null,
          });
          if (!call) {
            const existing = await findCall(tx, orgId, projectId, parsedId.data.callId);
            if (!existing) throw new AppError('not_found');
            throw new AppError('conflict', `This tool call was already ${existing.status}`);
          }
          await appendAuditRecords(tx, [
            buildAuditRecord(actor, requestContext(request), {
              action: `tool_call.${verb}`,
              orgId,
              projectId,
              resourceType: 'tool_call',
              resourceId: call.id,
              newValues: {
                toolCallId: call.toolCallId,
                toolName: call.toolName,
                argumentsDigest: call.argumentsDigest,
                status: call.status,
                reason: call.decisionReason,
              },
            }),
          ]);
          return call;
        });
        return view(decided);
      },
    );
  }
};
