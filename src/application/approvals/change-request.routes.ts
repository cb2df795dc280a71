import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import { z } from 'zod';

import type { Database } from '../../data/database/database.js';
import { inTenant } from '../../data/database/tenant-scope.js';
import { sessionActor } from '../../http/actor.js';
import { AppError } from '../../http/errors.js';
import { orgPath } from '../../http/params.js';
import { requestContext } from '../../http/request-context.hook.js';
import { hasNoNulCharacter, parseOrThrow } from '../../http/validation.js';
import { listChangeRequests } from './change-request.repository.js';
import { approveChangeRequest, rejectChangeRequest } from './change-request.service.js';
import { changeRequestView } from './change-request.view.js';

const BASE = '/api/v1/organizations/:orgId/change-requests';

const requestPathSchema = z.object({ orgId: z.uuid(), requestId: z.uuid() });
const listQuerySchema = z.strictObject({
  status: z.enum(['pending', 'applied', 'rejected', 'stale']).optional(),
});
const rejectSchema = z.strictObject({
  note: z
    .string()
    .trim()
    .max(1000)
    .refine(hasNoNulCharacter, 'Note must not contain NUL characters')
    .optional(),
});
const approveSchema = z.strictObject({});

function requestPath(params: unknown) {
  const parsed = requestPathSchema.safeParse(params);
  if (!parsed.success) throw new AppError('not_found');
  return parsed.data;
}

const scopeOf = (request: FastifyRequest, orgId: string) => ({
  actor: sessionActor(request),
  context: requestContext(request),
  orgId,
});

/** Four-eyes change requests: list, and approve or reject another admin's change. */
export const changeRequestRoutes: FastifyPluginAsync<{ db: Database }> = async (app, { db }) => {
  app.get(
    BASE,
    { config: { security: { auth: 'session', permission: 'change_request.read' } } },
    async (request) => {
      const { orgId } = orgPath(request.params);
      const query = parseOrThrow(listQuerySchema, request.query);
      const requests = await inTenant(db, orgId, (tx) =>
        listChangeRequests(tx, orgId, query.status ?? null),
      );
      return { data: requests.map(changeRequestView) };
    },
  );

  app.post(
    `${BASE}/:requestId/approve`,
    { config: { security: { auth: 'session', permission: 'change_request.approve' } } },
    async (request) => {
      const { orgId, requestId } = requestPath(request.params);
      parseOrThrow(approveSchema, request.body ?? {});
      return changeRequestView(await approveChangeRequest(db, scopeOf(request, orgId), requestId));
    },
  );

  app.post(
    `${BASE}/:requestId/reject`,
    { config: { security: { auth: 'session', permission: 'change_request.approve' } } },
    async (request) => {
      const { orgId, requestId } = requestPath(request.params);
      const input = parseOrThrow(rejectSchema, request.body ?? {});
      const rejected = await rejectChangeRequest(
        db,
        scopeOf(request, orgId),
        requestId,
        input.note ?? null,
      );
      return changeRequestView(rejected);
    },
  );
};
