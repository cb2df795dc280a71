import type { FastifyPluginAsync } from 'fastify';

import type { Database } from '../data/database/database.js';
import { inTenant } from '../data/database/tenant-scope.js';
import { sessionActor } from '../http/actor.js';
import { AppError } from '../http/errors.js';
import { orgPath } from '../http/params.js';
import { requestContext } from '../http/request-context.hook.js';
import { parseOrThrow } from '../http/validation.js';
import {
  ALLOWLIST_SURFACES,
  listAllowlistEntries,
  type AllowlistEntry,
} from './ip-allowlist.repository.js';
import { allowlistPathSchema, replaceAllowlistSchema } from './ip-allowlist.schema.js';
import { replaceAllowlist } from './ip-allowlist.service.js';

const BASE = '/api/v1/organizations/:orgId/ip-allowlists';

const entryView = (entry: AllowlistEntry) => ({
  id: entry.id,
  cidr: entry.cidr,
  description: entry.description,
  createdAt: entry.createdAt.toISOString(),
});

function listsView(entries: AllowlistEntry[]) {
  return Object.fromEntries(
    ALLOWLIST_SURFACES.map((surface) => [
      surface,
      entries.filter((entry) => entry.surface === surface).map(entryView),
    ]),
  );
}

/** Registers the routes of an organization's IP allowlists: `admin` and `api_key`. */
export const ipAllowlistRoutes: FastifyPluginAsync<{ db: Database }> = async (app, { db }) => {
  app.get(
    BASE,
    { config: { security: { auth: 'session', permission: 'ip_allowlist.read' } } },
    async (request) => {
      const { orgId } = orgPath(request.params);
      const entries = await inTenant(db, orgId, (tx) => listAllowlistEntries(tx, orgId));
      return { ...listsView(entries), yourAddress: request.ip };
    },
  );

  app.put(
    `${BASE}/:surface`,
    { config: { security: { auth: 'session', permission: 'ip_allowlist.update' } } },
    async (request) => {
      const path = allowlistPathSchema.safeParse(request.params);
      if (!path.success) throw new AppError('not_found');
      const { orgId, surface } = path.data;
      const input = parseOrThrow(replaceAllowlistSchema, request.body);
      const entries = await replaceAllowlist(
        db,
        { actor: sessionActor(request), context: requestContext(request), orgId },
        surface,
        input.entries.map((entry) => ({
          cidr: entry.cidr,
          description: entry.description ?? null,
        })),
      );
      return { surface, entries: entries.map(entryView) };
    },
  );
};
