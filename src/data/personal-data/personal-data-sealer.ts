import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

import type { Queryable } from '../database/database.js';

/** Format tag of sealed personal values: `pd1.<subject, base64url>.<iv|ciphertext|tag, base64url>`. */
const FORMAT = 'pd1';
const IV_BYTES = 12;
const TAG_BYTES = 16;
const MAX_CACHED_KEYS = 10_000;
const CACHE_TTL_MS = 60_000;

/**
 * Seals personal values (emails, IP addresses, user agents) under one AES-256-GCM key per data
 * subject. Stored records keep only the sealed text; destroying a subject's key makes every
 * value sealed under it unreadable (crypto-shredding) while records and their hashes stay.
 * The associated data binds the subject and the field, so a sealed value copied to another
 * field or subject does not open.
 */
export class PersonalDataSealer {
  private readonly cache = new Map<string, { key: Buffer | null; until: number }>();

  /** Seals `plaintext` for `subjectId`; returns null when the subject's key was destroyed. */
  async seal(db: Queryable, subjectId: string, field: string, plaintext: string): Promise<string | null> {
    const key = await this.subjectKey(db, subjectId, true);
    if (!key) return null;
    return sealWithKey(key, subjectId, field, plaintext);
  }

  /**
   * Returns the key that seals values of `subjectId`, creating it inside the caller's
   * transaction when the subject has none, or null when it was destroyed. For callers that
   * seal with {@link sealWithKey} elsewhere, such as in a worker thread.
   */
  sealingKey(db: Queryable, subjectId: string): Promise<Buffer | null> {
    return this.subjectKey(db, subjectId, true);
  }

  /** Opens a sealed value; null when the key is destroyed or the value does not open. */
  async unseal(db: Queryable, sealed: string, field: string): Promise<string | null> {
    const parts = sealed.split('.');
    if (parts.length !== 3 || parts[0] !== FORMAT) return null;
    const subjectId = Buffer.from(parts[1] ?? '', 'base64url').toString('utf8');
    const body = Buffer.from(parts[2] ?? '', 'base64url');
    if (body.length < IV_BYTES + TAG_BYTES) return null;
    const key = await this.subjectKey(db, subjectId, false);
    if (!key) return null;
    try {
      const decipher = createDecipheriv('aes-256-gcm', key, body.subarray(0, IV_BYTES), {
        authTagLength: TAG_BYTES,
      });
      decipher.setAAD(associatedData(subjectId, field));
      decipher.setAuthTag(body.subarray(body.length - TAG_BYTES));
      const plain = Buffer.concat([
        decipher.update(body.subarray(IV_BYTES, body.length - TAG_BYTES)),
        decipher.final(),
      ]);
      return plain.toString('utf8');
    } catch {
      return null;
    }
  }

  /** Destroys a subject's key for good; values sealed under it can no longer be opened. */
  async destroySubjectKey(db: Queryable, subjectId: string): Promise<boolean> {
    const result = await db.query(
      `UPDATE personal_data_keys SET key_material = NULL, destroyed_at = now()
        WHERE subject_id = $1 AND destroyed_at IS NULL`,
      [subjectId],
    );
    this.cache.set(subjectId, { key: null, until: Date.now() + CACHE_TTL_MS });
    return result.rowCount > 0;
  }

  private async subjectKey(db: Queryable, subjectId: string, create: boolean): Promise<Buffer | null> {
    const cached = this.cache.get(subjectId);
    if (cached && cached.until > Date.now()) return cached.key;

    const found = await this.loadKey(db, subjectId);
    if (found !== undefined) {
      this.remember(subjectId, found);
      return found;
    }
    if (!create) return null;
    // A key created inside the caller's transaction is not cached: if that transaction rolls
    // back, the key is gone, and the next call must create it again.
    await db.query(
      `INSERT INTO personal_data_keys (subject_id, key_material) VALUES ($1, $2)
       ON CONFLICT (subject_id) DO NOTHING`,
      [subjectId, randomBytes(32)],
    );
    return (await this.loadKey(db, subjectId)) ?? null;
  }

  /** The subject's key; null when destroyed, undefined when the subject has none yet. */
  private async loadKey(db: Queryable, subjectId: string): Promise<Buffer | null | undefined> {
    const result = await db.query<{ key_material: Buffer | null }>(
      'SELECT key_material FROM personal_data_keys WHERE subject_id = $1',
      [subjectId],
    );
    const row = result.rows[0];
    return row === undefined ? undefined : row.key_material;
  }

  private remember(subjectId: string, key: Buffer | null): void {
    if (this.cache.size >= MAX_CACHED_KEYS) {
      const oldest = this.cache.keys().next().value;
      if (oldest !== undefined) this.cache.delete(oldest);
    }
    this.cache.set(subjectId, { key, until: Date.now() + CACHE_TTL_MS });
  }
}

/** Seals `plaintext` of `field` under a subject's key, in the format `unseal` opens. */
export function sealWithKey(
  key: Uint8Array,
  subjectId: string,
  field: string,
  plaintext: string,
): string {
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_BYTES });
  cipher.setAAD(associatedData(subjectId, field));
  const body = Buffer.concat([iv, cipher.update(plaintext, 'utf8'), cipher.final(), cipher.getAuthTag()]);
  return `${FORMAT}.${Buffer.from(subjectId, 'utf8').toString('base64url')}.${body.toString('base64url')}`;
}

function associatedData(subjectId: string, field: string): Buffer {
  return Buffer.from(`${FORMAT}\n${subjectId}\n${field}`, 'utf8');
}

/** The process-wide sealer, so every writer shares one key cache. */
export const personalDataSealer = new PersonalDataSealer();
