import type { Permission } from './permissions.js';

/**
 * The security contract every route declares in its `config.security`:
 * - `public`: no credential (health checks, login);
 * - `session`: an admin session; with `permission`, the user's role in the organization named
 *   by the `:orgId` path parameter must grant it;
 * - `api_key`: a MindWeave API key (the gateway routes).
 * A route without a contract is rejected by the authorization hook.
 */
export type RouteSecurity =
  | { auth: 'public' }
  | {
      auth: 'session';
      permission?: Permission;
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
