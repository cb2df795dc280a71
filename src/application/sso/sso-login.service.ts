import { createHash } from 'node:crypto';

import type { Logger } from 'pino';
import * as oidc from 'openid-client';

import { inTenant } from '../../data/database/tenant-scope.js';
import { AppError } from '../../http/errors.js';
import type { RequestContext } from '../../http/request-context.js';
import { buildAuditRecord, type AuditRecord } from '../../monitoring/audit/audit-entry.js';
import { appendAuditRecords } from '../../monitoring/audit/audit.repository.js';
import type { User } from '../../tenancy/users/user.repository.js';
import type { IdentityServices } from '../auth/identity.js';
import { MFA_CHALLENGE_TTL_MS, type LoginOutcome } from '../auth/login.service.js';
import type { SessionType } from '../auth/session.repository.js';
import { userActor } from '../auth/session.service.js';
import { generateChallengeToken } from '../auth/session-token.js';
import { findMfaStatus, insertMfaChallenge } from '../mfa/mfa.repository.js';
import type { OidcClientFactory } from './oidc-client.js';
import { readClaims, type SsoClaims } from './sso-claims.js';
import { findOrgIdBySlug, findSsoConfig, type SsoConfigRow } from './sso-config.repository.js';
import { ssoPaths, type SsoConfigService } from './sso-config.service.js';
import { consumeLoginState, insertLoginState } from './sso-login-state.repository.js';
import { prepareSsoUser, provisionUser, SsoLoginError } from './sso-provisioning.js';
import { resolveRole } from './sso-role-mapping.js';
import { bindingMatches, SSO_LOGIN_TTL_MS } from './sso-binding-cookie.js';

/** The parameters of the provider's redirect back to the callback. */
export type CallbackParams = Record<string, string | undefined> & { state: string };

function sha256(value: string): Buffer {
  return createHash('sha256').update(value, 'utf8').digest();
}

function providerUnavailable(): AppError {
  return new AppError(
    'upstream_unreachable',
    'The identity provider could not be reached, or its metadata does not match the configured issuer',
  );
}

/**
 * OpenID Connect sign-in: the authorization code flow with PKCE (S256), state and nonce, then
 * just-in-time provisioning and an ordinary MindWeave session or MFA challenge.
 */
export class SsoLoginService {
  constructor(
    private readonly identity: IdentityServices,
    private readonly configs: SsoConfigService,
    private readonly clients: OidcClientFactory,
    private readonly logger: Logger,
  ) {}

  /** Maximum lifetime of a session, which is also the session cookie's Max-Age. */
  get sessionMaxAgeMs(): number {
    return this.identity.sessions.absoluteMs;
  }

  async #configBySlug(slug: string): Promise<SsoConfigRow> {
    const orgId = await findOrgIdBySlug(this.identity.db, slug);
    const row = orgId
      ? await inTenant(this.identity.db, orgId, async (tx) => {
          const status = await tx.query<{ status: string }>(
            'SELECT status FROM organizations WHERE id = $1',
            [orgId],
          );
          return status.rows[0]?.status === 'active' ? findSsoConfig(tx, orgId) : null;
        })
      : null;
    if (!row) throw new AppError('not_found', 'No single sign-on is configured for this name');
    return row;
  }

  async #client(row: SsoConfigRow): Promise<oidc.Configuration> {
    const clientSecret = await this.configs.clientSecret(row);
    try {
      return await this.clients.configuration({
        issuer: row.issuer,
        clientId: row.clientId,
        clientSecret,
      });
    } catch (error) {
      this.logger.warn(
        { err: error, orgId: row.orgId, issuer: row.issuer },
        'failed to load the identity provider metadata',
      );
      throw providerUnavailable();
    }
  }

  /**
   * Starts a sign-in: stores the PKCE verifier, state and nonce with the hash of the browser
   * binding, and returns the provider's authorization URL to redirect the browser to.
   */
  async start(slug: string, sessionType: SessionType, browserBindingHash: Buffer): Promise<URL> {
    const row = await this.#configBySlug(slug);
    const client = await this.#client(row);
    const codeVerifier = oidc.randomPKCECodeVerifier();
    const state = oidc.randomState();
    const nonce = oidc.randomNonce();
    const redirectUri = `${this.configs.publicBaseUrl}${ssoPaths(row.slug).callback}`;
    await inTenant(this.identity.db, row.orgId, (tx) =>
      insertLoginState(tx, {
        orgId: row.orgId,
        stateHash: sha256(state),
        browserBindingHash,
        codeVerifier,
        nonce,
        redirectUri,
        sessionType,
        expiresAt: new Date(this.identity.clock() + SSO_LOGIN_TTL_MS),
      }),
    );
    return oidc.buildAuthorizationUrl(client, {
      redirect_uri: redirectUri,
      response_type: 'code',
      scope: row.scopes.join(' '),
      code_challenge: await oidc.calculatePKCECodeChallenge(codeVerifier),
      code_challenge_method: 'S256',
      state,
      nonce,
    });
  }

  /**
   * Completes a sign-in at the callback. The state must be open, unexpired and started by this
   * browser. openid-client exchanges the code with the PKCE verifier and validates the ID
   * token: signature, issuer, audience, expiry and nonce. Every rejection is audited.
   */
  async callback(
    slug: string,
    params: CallbackParams,
    bindingCookie: string | null,
    context: RequestContext,
  ): Promise<LoginOutcome> {
    const row = await this.#configBySlug(slug);
    try {
      return await this.#complete(row, params, bindingCookie, context);
    } catch (error) {
      if (!(error instanceof SsoLoginError)) throw error;
      await appendAuditRecords(this.identity.db, [this.#failureRecord(row, context, error)]);
      throw new AppError('unauthorized', `Single sign-on failed: ${error.message}`);
    }
  }

  #failureRecord(row: SsoConfigRow, context: RequestContext, error: SsoLoginError): AuditRecord {
    return buildAuditRecord({ type: 'system', id: null }, context, {
      action: 'user.login_failed',
      orgId: row.orgId,
      resourceType: 'user',
      metadata: {
        method: 'sso',
        reason: error.reason,
        ...(typeof error.cause === 'string' ? { errorCode: error.cause } : {}),
      },
      sensitivity: 'sensitive',
      complianceRelevant: true,
    });
  }

  async #complete(
    row: SsoConfigRow,
    params: CallbackParams,
    bindingCookie: string | null,
    context: RequestContext,
  ): Promise<LoginOutcome> {
    const state = await inTenant(this.identity.db, row.orgId, (tx) =>
      consumeLoginState(tx, row.orgId, sha256(params.state)),
    );
    if (!state) {
      throw new SsoLoginError('invalid_state', 'the sign-in is unknown, expired or already used');
    }
    if (!bindingMatches(bindingCookie, state.browserBindingHash)) {
      throw new SsoLoginError('browser_mismatch', 'the sign-in was started in another browser');
    }
    if (params.error !== undefined) {
      throw new SsoLoginError('provider_error', 'the identity provider rejected the sign-in');
    }

    const claims = await this.#exchange(row, params, state);
    return this.#signIn(row, claims, context, state.sessionType);
  }

  async #exchange(
    row: SsoConfigRow,
    params: CallbackParams,
    state: { codeVerifier: string; nonce: string; redirectUri: string },
  ): Promise<SsoClaims> {
    const client = await this.#client(row);
    const currentUrl = new URL(state.redirectUri);
    for (const [key, value] of Object.entries(params)) {
      if (value !== undefined) currentUrl.searchParams.set(key, value);
    }
    let tokens;
    let userInfo: oidc.UserInfoResponse | null = null;
    try {
      tokens = await oidc.authorizationCodeGrant(client, currentUrl, {
        pkceCodeVerifier: state.codeVerifier,
        expectedState: params.state,
        expectedNonce: state.nonce,
        idTokenExpected: true,
      });
      const idToken = tokens.claims();
      if (!idToken) throw new Error('no ID token');
      if (client.serverMetadata().userinfo_endpoint && tokens.access_token) {
        userInfo = await oidc.fetchUserInfo(client, tokens.access_token, idToken.sub);
      }
      return readClaims(idToken, userInfo, row.groupsClaim);
    } catch (error) {
      const code = (error as { code?: unknown }).code;
      this.logger.warn(
        { orgId: row.orgId, issuer: row.issuer, errorCode: typeof code === 'string' ? code : null },
        'single sign-on token exchange or ID token validation failed',
      );
      throw new SsoLoginError(
        'token_validation_failed',
        'the identity provider response is invalid',
        {
          cause: typeof code === 'string' ? code : 'unknown',
        },
      );
    }
  }

  #checkClaims(row: SsoConfigRow, claims: SsoClaims): SsoClaims & { email: string } {
    const { email } = claims;
    if (email === null || !claims.emailVerified) {
      throw new SsoLoginError('email_unverified', 'the provider sent no verified email address');
    }
    const domain = email.slice(email.lastIndexOf('@') + 1);
    if (!row.allowedEmailDomains.includes(domain)) {
      throw new SsoLoginError(
        'email_domain_not_allowed',
        `the email domain ${domain} is not allowed`,
      );
    }
    return { ...claims, email };
  }

  async #signIn(
    row: SsoConfigRow,
    rawClaims: SsoClaims,
    context: RequestContext,
    sessionType: SessionType,
  ): Promise<LoginOutcome> {
    const claims = this.#checkClaims(row, rawClaims);
    const role = resolveRole(claims.groups, row.roleMappings, row.defaultRole);
    if (!role) {
      throw new SsoLoginError(
        'no_role',
        'none of your groups is given a role in this organization',
      );
    }
    const { identity } = this;
    const prepared = await prepareSsoUser(identity.db, row, claims);
    const preparedSession = await identity.sessions.prepare(context);
    const outcome = await inTenant(identity.db, row.orgId, async (tx) => {
      const { user, records } = await provisionUser(tx, row, claims, role, context, prepared);
      await appendAuditRecords(tx, records);
      const mfa = await findMfaStatus(tx, user.id);
      if (mfa.enrolled) {
        const challenge = generateChallengeToken();
        const expiresAt = new Date(identity.clock() + MFA_CHALLENGE_TTL_MS);
        await insertMfaChallenge(tx, {
          hash: challenge.hash,
          userId: user.id,
          sessionType,
          expiresAt,
        });
        return { kind: 'mfa_required' as const, challengeToken: challenge.token, expiresAt };
      }
      const opened = await identity.sessions.open(tx, user, context, {
        sessionType,
        mfaMethod: null,
        auditLogin: false,
        prepared: preparedSession,
      });
      await appendAuditRecords(tx, [
        loginRecord(user, opened.session.id, row, context, sessionType),
      ]);
      return { kind: 'session' as const, opened, user };
    });
    if (outcome.kind === 'mfa_required') return outcome;
    const status = await findMfaStatus(identity.db, outcome.user.id);
    return { ...outcome, mfaEnrollmentRequired: status.required && !status.enrolled };
  }
}

function loginRecord(
  user: User,
  sessionId: string,
  row: SsoConfigRow,
  context: RequestContext,
  sessionType: SessionType,
): AuditRecord {
  return buildAuditRecord(userActor(user, sessionId), context, {
    action: 'user.login',
    orgId: row.orgId,
    resourceType: 'session',
    resourceId: sessionId,
    metadata: { sessionType, mfa: null, method: 'sso', issuer: row.issuer },
    sensitivity: 'sensitive',
    complianceRelevant: true,
  });
}
