import type { Actor, RequestContext } from '../../http/request-context.js';

/** The actor, request and organization of an access action. */
export interface AccessScope {
  actor: Actor & { type: 'user' };
  context: RequestContext;
  orgId: string;
}
