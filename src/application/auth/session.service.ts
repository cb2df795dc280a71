import type { Database, Queryable } from '../../data/database/database.js';
import type { RequestContext } from '../../http/request-context.js';
import { buildAuditRecord } from '../../monitoring/audit/audit-entry.js';
import { appendAuditRecords } from '../../monitoring/audit/audit.repository.js';
import { findUserCredentialsById, type User } from '../../tenancy/users/user.repository.js';
import { findMfaStatus } from '../mfa/mfa.repository.js';
import type { IdentitySettings } from './identity-settings.js';
import {
  sessionWithoutClient,
  type PreparedSession,
  type SessionClient,
  type SessionClientCipher,
} from './session-client.js';
import {
  findSessionByHash,
  insertSession,
  listOpenSessions,
  revokeSession,
  touchSession,
  type SessionRecord,
  type SessionType,
} from './session.repository.js';
import {
  generateCsrfToken,
  generateSessionToken,
  hashSessionToken,
  isSessionTokenShape,
} from './session-token.js';

// Writing last_seen_at on every request would cost a write per admin call; a minute of
// slack on the idle timeout is the price of writing at most once a minute.
const TOUCH_INTERVAL_MS = 60 * 1000;

/** An authenticated admin request. */
export interface SessionPrincipal {
  user: User;
  session: SessionRecord;
  /** The user must enroll a second factor before using routes other than enrollment. */
  mfaEnrollmentRequired: boolean;
}

/** A principal with the session's CSRF token hash, for the authorization hook only. */
export interface AuthenticatedSession extends SessionPrincipal {
  csrfTokenHash: Buffer | null;
}

/** A new session and its secrets; the token and CSRF token are shown once. */
export interface OpenedSession {
  token: string;
  /** Set for cookie sessions: the value every state-changing request sends in `x-csrf-token`. */
  csrfToken: string | null;
  session: SessionRecord;
}

/** An open session with its decrypted client address and user agent. */
export interface OpenSessionView extends SessionRecord, SessionClient {}

/** Builds the audit actor of a user acting in a session. */
export function userActor(user: { id: string; email: string }, sessionId: string | null) {
  return { type: 'user' as const, id: user.id, email: user.email, sessionId };
}

/**
 * Opens, checks and ends admin sessions under the configured idle and absolute timeouts. Without
 * a client cipher (a process without the key hierarchy), sessions record no client address or
 * user agent.
 */
export class SessionService {
  constructor(
    private readonly db: Database,
    private readonly settings: IdentitySettings,
    readonly clock: () => number = Date.now,
    private readonly clients: SessionClientCipher | null = null,
  ) {}

  /** Maximum lifetime of a session, which is also the session cookie's Max-Age. */
  get absoluteMs(): number {
    return this.settings.sessionAbsoluteMs;
  }

  /**
   * Chooses the id of the next session and encrypts the request's client address and user agent.
   * Call it before the transaction that opens the session, and pass the result to
   * {@link SessionService.open}, because encryption can query the key store.
   */
  async prepare(context: RequestContext): Promise<PreparedSession> {
    return this.clients === null ? sessionWithoutClient() : this.clients.prepare(context);
  }

  /**
   * Opens a session in the caller's transaction and writes its `user.login` audit entry there.
   * Every sign-in gets a new id and token, so a token planted before sign-in is never promoted.
   */
  async open(
    tx: Queryable,
    user: { id: string; email: string },
    context: RequestContext,
    options: {
      sessionType: SessionType;
      mfaMethod: 'totp' | 'recovery_code' | 'webauthn' | null;
      /** False when the caller audits the new session itself, as a session rotation does. */
      auditLogin?: boolean;
      /** The result of {@link SessionService.prepare}, made before the transaction began. */
      prepared?: PreparedSession;
    },
  ): Promise<OpenedSession> {
    const prepared = options.prepared ?? (await this.#prepareInTransaction(context));
    const { token, hash } = generateSessionToken();
    const csrf = options.sessionType === 'cookie' ? generateCsrfToken() : null;
    const session = await insertSession(tx, prepared, {
      hash,
      userId: user.id,
      sessionType: options.sessionType,
      csrfTokenHash: csrf?.hash ?? null,
      mfaVerified: options.mfaMethod !== null,
      expiresAt: new Date(this.clock() + this.settings.sessionAbsoluteMs),
    });
    if (options.auditLogin === false) return { token, csrfToken: csrf?.token ?? null, session };
    await appendAuditRecords(tx, [
      buildAuditRecord(userActor(user, session.id), context, {
        action: 'user.login',
        resourceType: 'session',
        resourceId: session.id,
        metadata: { sessionType: options.sessionType, mfa: options.mfaMethod },
        sensitivity: 'sensitive',
        complianceRelevant: true,
      }),
    ]);
    return { token, csrfToken: csrf?.token ?? null, session };
  }

  /**
   * Lists a user's open sessions, newest first, with their client address and user agent
   * decrypted. A value that does not decrypt is null, so one damaged row fails no listing.
   */
  async listOpen(userId: string): Promise<OpenSessionView[]> {
    const rows = await listOpenSessions(this.db, userId);
    const views: OpenSessionView[] = [];
    for (const { ipEncrypted, userAgentEncrypted, ...session } of rows) {
      const client =
        this.clients === null
          ? { ip: null, userAgent: null }
          : await this.clients.open(session.id, { ipEncrypted, userAgentEncrypted });
      views.push({ ...session, ...client });
    }
    return views;
  }

  /**
   * Resolves a session token to its user, or null when it is unknown, revoked, idle for longer
   * than the idle timeout, or older than the absolute timeout.
   */
  async authenticate(token: string): Promise<AuthenticatedSession | null> {
    if (!isSessionTokenShape(token)) return null;
    const now = this.clock();
    const found = await findSessionByHash(this.db, hashSessionToken(token));
    if (!found || found.revokedAt) return null;
    if (found.expiresAt.getTime() <= now) return null;
    if (found.createdAt.getTime() + this.settings.sessionAbsoluteMs <= now) return null;
    if (found.lastSeenAt.getTime() + this.settings.sessionIdleMs <= now) return null;

    const user = await findUserCredentialsById(this.db, found.userId);
    if (!user || user.status !== 'active') return null;
    const mfa = await findMfaStatus(this.db, user.id);

    if (now - found.lastSeenAt.getTime() > TOUCH_INTERVAL_MS) await touchSession(this.db, found.id);
    const { passwordHash: _omitted, ...publicUser } = user;
    const { csrfTokenHash, ...session } = found;
    return {
      user: publicUser,
      session,
      mfaEnrollmentRequired: mfa.required && !mfa.enrolled,
      csrfTokenHash,
    };
  }

  // Encrypting inside an open transaction is safe on PostgreSQL, where the key store uses another
  // pool connection. Embedded PostgreSQL has one connection, and a key store query there would
  // wait for this transaction forever, so such a session records no client address.
  // NOTE: callers that do not pass `prepared` record no client on embedded PostgreSQL.
  async #prepareInTransaction(context: RequestContext): Promise<PreparedSession> {
    if (this.clients === null || this.db.kind === 'embedded') return sessionWithoutClient();
    return this.clients.prepare(context);
  }

  /** Ends the principal's session and records it. */
  async logout(context: RequestContext, principal: SessionPrincipal): Promise<void> {
    await this.db.transaction(async (tx) => {
      await revokeSession(tx, principal.session.id);
      await appendAuditRecords(tx, [
        buildAuditRecord(userActor(principal.user, principal.session.id), context, {
          action: 'user.logout',
          resourceType: 'session',
          resourceId: principal.session.id,
        }),
      ]);
    });
  }
}
