import { z } from 'zod';

import { AppError } from './errors.js';

const orgParams = z.object({ orgId: z.uuid() });
const projectParams = orgParams.extend({ projectId: z.uuid() });
const keyParams = projectParams.extend({ keyId: z.uuid() });

// A malformed id cannot name an existing resource, so it answers 404 like an unknown one.
function parseParams<S extends z.ZodType>(schema: S, params: unknown): z.output<S> {
  const result = schema.safeParse(params);
  if (!result.success) throw new AppError('not_found');
  return result.data;
}

export const orgPath = (params: unknown) => parseParams(orgParams, params);
export const projectPath = (params: unknown) => parseParams(projectParams, params);
export const keyPath = (params: unknown) => parseParams(keyParams, params);
