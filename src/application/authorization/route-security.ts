import type { Permission } from './permissions.js';

/**
 * The security contract every route declares in its `config.security`:
 * - `public`: no credential (health checks, login);
 * - `session`: an admin session. With `permission`, the route acts on `resource`: the
 *   organization named by `:orgId` (the default), or the project named by `:projectId` inside
 *   it, and `authorize` must allow the permission there. Such routes also accept an API key
 *   with an admin scope of that organization; routes without a permission take sessions only;
 * - `api_key`: a MindWeave API key (the gateway routes).
 * A route without a contract is rejected by the authorization hook.
 */
export type RouteSecurity =
  | { auth: 'public' }
  | {
      auth: 'session';
      permission?: Permission;
      resource?: 'organization' | 'project';
      allowPasswordChange?: boolean;
      /** Reachable by a user who must enroll a second factor and has not yet. */
      allowMfaEnrollment?: boolean;
    }
  | { auth: 'api_key' };

declare module 'fastify' {
  interface FastifyContextConfig {
    security?: RouteSecurity;
  }
}
