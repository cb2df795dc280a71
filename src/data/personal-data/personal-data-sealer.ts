import { createCipheriv, createDecipheriv, randomBytes, randomFillSync } from 'node:crypto';

import type { KeyHierarchy } from '../crypto/key-hierarchy.js';
import type { Clock } from '../crypto/key-types.js';
import type { Queryable } from '../database/database.js';
import { DatabaseKeyUsageSink } from '../key-store/database-key-usage-sink.js';

/** Format tag of sealed personal values: `pd1.<subject, base64url>.<iv|ciphertext|tag, base64url>`. */
const FORMAT = 'pd1';
const IV_BYTES = 12;
const TAG_BYTES = 16;
const MAX_CACHED_KEYS = 10_000;
const CACHE_TTL_MS = 60_000;

/** Actor recorded in the key usage log for wraps and unwraps of subject keys. */
const SEALER_ACTOR = 'personal-data-sealer';

/**
 * Wraps and unwraps subject keys under the `compliance` purpose key of the key hierarchy. The
 * associated data binds the subject id and the compliance key version, so a wrapped key copied
 * to another subject or version does not open. `usage` receives the key usage record. It is the
 * caller's transaction, so the record commits with the key and no second query runs meanwhile.
 */
export interface SubjectKeyWrapping {
  wrap(
    subjectId: string,
    material: Uint8Array,
    usage: Queryable,
  ): Promise<{ version: number; wrapped: Buffer }>;
  unwrap(subjectId: string, version: number, wrapped: Uint8Array, usage: Queryable): Promise<Buffer>;
}

/** Builds the {@link SubjectKeyWrapping} of a key hierarchy. */
export function complianceKeyWrapping(hierarchy: KeyHierarchy): SubjectKeyWrapping {
  const context = (subjectId: string, version: number) => ({
    use: 'personal_data_key',
    subject: subjectId,
    complianceVersion: String(version),
  });
  return {
    wrap(subjectId, material, usage) {
      return hierarchy.wrapWithPurposeKey(
        'compliance',
        material,
        (version) => context(subjectId, version),
        SEALER_ACTOR,
        new DatabaseKeyUsageSink(usage),
      );
    },
    unwrap(subjectId, version, wrapped, usage) {
      return hierarchy.unwrapWithPurposeKey(
        'compliance',
        version,
        wrapped,
        context(subjectId, version),
        SEALER_ACTOR,
        new DatabaseKeyUsageSink(usage),
      );
    },
  };
}

interface KeyRow {
  key_material: Buffer | null;
  wrapped_key: Buffer | null;
  compliance_key_version: number | null;
  destroyed_at: Date | null;
  deletion_date: Date | null;
}

/**
 * Seals personal values (emails, IP addresses, user agents) under one AES-256-GCM key per data
 * subject. Stored records keep only the sealed text. Destroying a subject's key makes every
 * value sealed under it unreadable (crypto-shredding) while records and their hashes stay.
 * The associated data binds the subject and the field, so a sealed value copied to another
 * field or subject does not open.
 *
 * With a {@link SubjectKeyWrapping} installed (the server installs the key hierarchy's), subject
 * keys are stored wrapped under the compliance purpose key, and unwrapped keys are kept in a
 * bounded cache for a minute. Without one (commands that run without the key hierarchy), new
 * keys are stored unwrapped and the next server start wraps them.
 *
 * A key whose erasure is scheduled (`deletion_date` set) still seals and opens values until
 * that date. From then on it reads as destroyed, even before the server's key maintenance
 * timer destroys it, and a cached copy is never used past the date.
 */
export class PersonalDataSealer {
  private readonly cache = new Map<string, { key: Buffer | null; until: number }>();
  private readonly clock: Clock;
  // Installed by each running server, latest last: a server that stops removes only its own,
  // so another server in the same process (tests start several) keeps wrapping.
  private readonly wrappings: SubjectKeyWrapping[] = [];

  /** `clock` defaults to the system clock; tests pass one they move forward. */
  constructor(clock: Clock = () => new Date()) {
    this.clock = clock;
  }

  private get wrapping(): SubjectKeyWrapping | null {
    return this.wrappings.at(-1) ?? null;
  }

  /** Stores new subject keys wrapped from now on, and opens wrapped ones; null clears all. */
  useWrapping(wrapping: SubjectKeyWrapping | null): void {
    if (wrapping === null) this.wrappings.length = 0;
    else this.wrappings.push(wrapping);
    this.clearCache();
  }

  /** Stops using `wrapping`; a wrapping installed before it, if any, is used again. */
  stopWrapping(wrapping: SubjectKeyWrapping): void {
    const index = this.wrappings.lastIndexOf(wrapping);
    if (index < 0) return;
    this.wrappings.splice(index, 1);
    this.clearCache();
  }

  /** Whether subject keys are wrapped by this process. */
  get wraps(): boolean {
    return this.wrapping !== null;
  }

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

  /**
   * Destroys a subject's key for good, so values sealed under it can no longer be opened.
   * Returns false when the subject had no live key. A subject without any key gets a destroyed row, so
   * no key is created for it later and nothing sealed for it again.
   *
   * With `dueBy`, only a key whose scheduled deletion date is at or before `dueBy` is
   * destroyed, and no row is created, so a cancelled or postponed erasure is left alone.
   */
  async destroySubjectKey(
    db: Queryable,
    subjectId: string,
    options: { dueBy?: Date } = {},
  ): Promise<boolean> {
    const due = options.dueBy === undefined ? '' : 'AND deletion_date <= $2';
    const result = await db.query(
      `UPDATE personal_data_keys
          SET key_material = NULL, wrapped_key = NULL, compliance_key_version = NULL,
              destroyed_at = now()
        WHERE subject_id = $1 AND destroyed_at IS NULL ${due}`,
      options.dueBy === undefined ? [subjectId] : [subjectId, options.dueBy],
    );
    if (result.rowCount === 0 && options.dueBy === undefined) {
      await db.query(
        `INSERT INTO personal_data_keys (subject_id, destroyed_at) VALUES ($1, now())
         ON CONFLICT (subject_id) DO NOTHING`,
        [subjectId],
      );
    }
    if (result.rowCount > 0 || options.dueBy === undefined) {
      this.forget(subjectId);
      this.cache.set(subjectId, { key: null, until: this.now() + CACHE_TTL_MS });
    }
    return result.rowCount > 0;
  }

  /** Drops the cached key of `subjectId`, so the next use reads its row again. */
  forgetSubject(subjectId: string): void {
    this.forget(subjectId);
  }

  /** Removes every cached subject key. */
  clearCache(): void {
    for (const subjectId of [...this.cache.keys()]) this.forget(subjectId);
  }

  private async subjectKey(db: Queryable, subjectId: string, create: boolean): Promise<Buffer | null> {
    const cached = this.cache.get(subjectId);
    if (cached && cached.until > this.now()) return cached.key;
    if (cached) this.forget(subjectId);

    const found = await this.loadKey(db, subjectId);
    if (found !== undefined) {
      this.remember(subjectId, found.key, found.usableUntil);
      return found.key;
    }
    if (!create) return null;
    // A key created inside the caller's transaction is not cached: if that transaction rolls
    // back, the key is gone, and the next call must create it again.
    const material = randomBytes(32);
    let inserted;
    if (this.wrapping) {
      const { version, wrapped } = await this.wrapping.wrap(subjectId, material, db);
      inserted = await db.query(
        `INSERT INTO personal_data_keys (subject_id, wrapped_key, compliance_key_version)
         VALUES ($1, $2, $3) ON CONFLICT (subject_id) DO NOTHING RETURNING subject_id`,
        [subjectId, wrapped, version],
      );
    } else {
      inserted = await db.query(
        `INSERT INTO personal_data_keys (subject_id, key_material) VALUES ($1, $2)
         ON CONFLICT (subject_id) DO NOTHING RETURNING subject_id`,
        [subjectId, material],
      );
    }
    // Another writer may have created the subject's key meanwhile, so that key is the one to use.
    if (inserted.rowCount > 0) return material;
    return (await this.loadKey(db, subjectId))?.key ?? null;
  }

  /**
   * Loads the subject's key and the time until which it may be used. The key is null when
   * destroyed or past its scheduled deletion date, and the result undefined for a subject
   * without a key.
   */
  private async loadKey(
    db: Queryable,
    subjectId: string,
  ): Promise<{ key: Buffer | null; usableUntil?: number } | undefined> {
    const result = await db.query<KeyRow>(
      `SELECT key_material, wrapped_key, compliance_key_version, destroyed_at, deletion_date
         FROM personal_data_keys WHERE subject_id = $1`,
      [subjectId],
    );
    const row = result.rows[0];
    if (row === undefined) return undefined;
    if (row.destroyed_at !== null) return { key: null };
    const usableUntil = row.deletion_date === null ? undefined : new Date(row.deletion_date).getTime();
    if (usableUntil !== undefined && usableUntil <= this.now()) return { key: null };
    return { key: await this.unwrapRow(db, subjectId, row), usableUntil };
  }

  private async unwrapRow(db: Queryable, subjectId: string, row: KeyRow): Promise<Buffer | null> {
    if (row.wrapped_key !== null && row.compliance_key_version !== null) {
      if (!this.wrapping) {
        throw new Error(
          'personal data keys are wrapped under the compliance key; open the key hierarchy first',
        );
      }
      return this.wrapping.unwrap(subjectId, row.compliance_key_version, row.wrapped_key, db);
    }
    return row.key_material;
  }

  private remember(subjectId: string, key: Buffer | null, usableUntil = Infinity): void {
    if (this.cache.size >= MAX_CACHED_KEYS) {
      const oldest = this.cache.keys().next().value;
      if (oldest !== undefined) this.forget(oldest);
    }
    this.cache.set(subjectId, { key, until: Math.min(this.now() + CACHE_TTL_MS, usableUntil) });
  }

  private now(): number {
    return this.clock().getTime();
  }

  private forget(subjectId: string): void {
    // Not zeroed: a caller may still be sealing with the key it was handed.
    this.cache.delete(subjectId);
  }
}

/** Bytes of the pool that IVs are cut from: 512 IVs, filled by one call to the generator. */
const IV_POOL_BYTES = IV_BYTES * 512;
let ivPool = Buffer.alloc(0);
let ivPoolOffset = 0;

/**
 * Returns a fresh random IV. A randomFillSync call per 12-byte IV took about a third of the
 * time to seal a short value (Node 20 on a 2-core AMD EPYC), so IVs are cut from a pool of 512.
 * Every pool byte is used once, and a used-up pool is replaced by a new buffer, never refilled,
 * because earlier IVs may still be referenced.
 */
function nextIv(): Buffer {
  if (ivPoolOffset + IV_BYTES > ivPool.length) {
    ivPool = randomFillSync(Buffer.allocUnsafe(IV_POOL_BYTES));
    ivPoolOffset = 0;
  }
  const iv = ivPool.subarray(ivPoolOffset, ivPoolOffset + IV_BYTES);
  ivPoolOffset += IV_BYTES;
  return iv;
}

/** Seals `plaintext` of `field` under a subject's key, in the format `unseal` opens. */
export function sealWithKey(
  key: Uint8Array,
  subjectId: string,
  field: string,
  plaintext: string,
): string {
  const iv = nextIv();
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
