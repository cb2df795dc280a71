/** Who performed an action. */
export type Actor =
  | { type: 'user'; id: string; email: string; sessionId: string | null }
  | { type: 'api_key'; id: string; orgId: string; projectId: string }
  | { type: 'system'; id: null };

/** The request facts that audit entries and logs carry. */
export interface RequestContext {
  requestId: string | null;
  ip: string | null;
  userAgent: string | null;
}

/** The context of work that no HTTP request started: CLI commands and background jobs. */
export const SYSTEM_CONTEXT: RequestContext = { requestId: null, ip: null, userAgent: null };

export const SYSTEM_ACTOR: Actor = { type: 'system', id: null };
