import { z } from 'zod';

import { AppError } from '../../http/errors.js';
import { ORG_ROLES, PROJECT_ROLES } from '../users/user.schema.js';

export const changeMemberRoleSchema = z.strictObject({ role: z.enum(ORG_ROLES) });

export const setProjectMemberSchema = z.strictObject({ role: z.enum(PROJECT_ROLES) });

const memberParams = z.object({ orgId: z.uuid(), userId: z.uuid() });
const projectMemberParams = memberParams.extend({ projectId: z.uuid() });

// A malformed id cannot name a member, so it gets 404 like an unknown one.
function parseIds<S extends z.ZodType>(schema: S, params: unknown): z.output<S> {
  const result = schema.safeParse(params);
  if (!result.success) throw new AppError('not_found');
  return result.data;
}

/** The ids of `/organizations/:orgId/members/:userId`. */
export const memberPath = (params: unknown) => parseIds(memberParams, params);

/** The ids of `/organizations/:orgId/projects/:projectId/members/:userId`. */
export const projectMemberPath = (params: unknown) => parseIds(projectMemberParams, params);
