import { randomUUID } from 'node:crypto';

import { DecryptionError } from '../../data/crypto/errors.js';
import type { FieldCipher } from '../../data/crypto/field-cipher.js';
import type { FieldLocation } from '../../data/crypto/field-context.js';
import { PLATFORM_KEY_TENANT } from '../../data/personal-data/user-field-protection.js';
import type { RequestContext } from '../../http/request-context.js';

/** Encrypted client columns of `admin_sessions`. */
export type SessionClientColumn = 'ip_encrypted' | 'user_agent_encrypted';

/**
 * Location of a session's encrypted client address or user agent. Sessions belong to users, who
 * can be members of several organizations, so the platform data key encrypts them.
 */
export function sessionClientLocation(
  sessionId: string,
  column: SessionClientColumn,
): FieldLocation {
  return { tenant: PLATFORM_KEY_TENANT, table: 'admin_sessions', column, rowId: sessionId };
}

/** The id of a new session with its client address and user agent, already encrypted. */
export interface PreparedSession {
  id: string;
  ipEncrypted: string | null;
  userAgentEncrypted: string | null;
}

/** Stored client columns of a session. */
export interface EncryptedSessionClient {
  ipEncrypted: string | null;
  userAgentEncrypted: string | null;
}

/** A session's client address and user agent, each null when not recorded or not decryptable. */
export interface SessionClient {
  ip: string | null;
  userAgent: string | null;
}

// Node decodes header values as Latin-1, so 512 characters take at most 1024 UTF-8 bytes, and
// the ciphertext stays below the column's 2048-character limit.
const MAX_USER_AGENT = 512;
const ACTOR = 'sessions';

/** Chooses the id of a new session that records no client address or user agent. */
export function sessionWithoutClient(): PreparedSession {
  return { id: randomUUID(), ipEncrypted: null, userAgentEncrypted: null };
}

/**
 * Encrypts and decrypts the client address and user agent of admin sessions under the platform
 * data key. Encryption can read and write the key store, so on embedded PostgreSQL it must run
 * before the transaction that inserts the session.
 */
export class SessionClientCipher {
  readonly #cipher: FieldCipher;

  constructor(cipher: FieldCipher) {
    this.#cipher = cipher;
  }

  /** Chooses the id of a new session and encrypts the request's client address and user agent. */
  async prepare(context: RequestContext): Promise<PreparedSession> {
    const id = randomUUID();
    const userAgent = context.userAgent?.slice(0, MAX_USER_AGENT) ?? null;
    return {
      id,
      ipEncrypted: await this.#encrypt(id, 'ip_encrypted', context.ip),
      userAgentEncrypted: await this.#encrypt(id, 'user_agent_encrypted', userAgent),
    };
  }

  /**
   * Decrypts a session's client columns. A value that does not decrypt (a destroyed key version,
   * a value copied from another row) is returned as null, like a value never recorded.
   */
  async open(sessionId: string, stored: EncryptedSessionClient): Promise<SessionClient> {
    return {
      ip: await this.#decrypt(sessionId, 'ip_encrypted', stored.ipEncrypted),
      userAgent: await this.#decrypt(sessionId, 'user_agent_encrypted', stored.userAgentEncrypted),
    };
  }

  async #encrypt(
    sessionId: string,
    column: SessionClientColumn,
    value: string | null,
  ): Promise<string | null> {
    if (value === null || value === '') return null;
    return this.#cipher.encrypt(sessionClientLocation(sessionId, column), value, { actor: ACTOR });
  }

  async #decrypt(
    sessionId: string,
    column: SessionClientColumn,
    ciphertext: string | null,
  ): Promise<string | null> {
    if (ciphertext === null) return null;
    try {
      return await this.#cipher.decryptString(
        sessionClientLocation(sessionId, column),
        ciphertext,
        {
          actor: ACTOR,
        },
      );
    } catch (error) {
      if (error instanceof DecryptionError) return null;
      throw error;
    }
  }
}
