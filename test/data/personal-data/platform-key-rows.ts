import type { FieldCipher } from '../../../src/data/crypto/field-cipher.js';
import type { Database } from '../../../src/data/database/database.js';
import {
  totpSecretLocation,
  userFieldLocation,
  type UserFieldProtection,
} from '../../../src/data/personal-data/user-field-protection.js';

/**
 * Rewrites the stored fields and TOTP secret of each user under the platform data key, the way
 * versions before per-user keys stored them.
 */
export async function moveUsersToPlatformKey(
  db: Database,
  cipher: FieldCipher,
  protection: UserFieldProtection,
  userIds: string[],
): Promise<void> {
  const options = { actor: 'test' };
  for (const id of userIds) {
    const stored = await db.query<{ email: string; name: string; phone: string | null }>(
      `SELECT email_encrypted AS email, name_encrypted AS name, phone_encrypted AS phone
         FROM users WHERE id = $1`,
      [id],
    );
    const row = stored.rows[0];
    if (row === undefined) throw new Error(`user ${id} not found`);
    const email = await protection.decrypt(id, 'email', row.email);
    const name = await protection.decrypt(id, 'name', row.name);
    const phone = row.phone === null ? null : await protection.decrypt(id, 'phone', row.phone);
    await db.query(
      `UPDATE users SET email_encrypted = $2, name_encrypted = $3, phone_encrypted = $4
        WHERE id = $1`,
      [
        id,
        await cipher.encrypt(userFieldLocation(id, 'email'), email, options),
        await cipher.encrypt(userFieldLocation(id, 'name'), name, options),
        phone === null ? null : await cipher.encrypt(userFieldLocation(id, 'phone'), phone, options),
      ],
    );
    const factor = await db.query<{ sealed: string }>(
      'SELECT secret_sealed AS sealed FROM user_totp_factors WHERE user_id = $1',
      [id],
    );
    const sealed = factor.rows[0]?.sealed;
    if (sealed === undefined || !sealed.startsWith('mw1.')) continue;
    const secret = await protection.decryptTotpSecret(id, sealed);
    await db.query('UPDATE user_totp_factors SET secret_sealed = $2 WHERE user_id = $1', [
      id,
      await cipher.encrypt(totpSecretLocation(id), secret, options),
    ]);
  }
}
