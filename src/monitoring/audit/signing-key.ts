import {
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  randomBytes,
  sign,
  verify,
  type KeyObject,
} from 'node:crypto';
import { constants } from 'node:fs';
import { link, lstat, mkdir, open, unlink } from 'node:fs/promises';
import path from 'node:path';

/** File name of the audit signing key inside the key folder. */
export const SIGNING_KEY_FILE = 'audit-signing-key.pem';

/** Signature type byte of Ed25519 in signed notes, hashed into the key ID. */
export const ED25519_SIGNATURE_TYPE = 0x01;

const ED25519_PUBLIC_KEY_SIZE = 32;
const ED25519_SIGNATURE_SIZE = 64;

/** Ed25519 key that signs audit checkpoints, with its signed-note identity. */
export interface AuditSigningKey {
  /** Signed-note key name, which is also the checkpoint origin. */
  readonly name: string;
  readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
  /** 32-byte RFC 8032 encoding of the public key. */
  readonly publicKeyRaw: Uint8Array;
  /** 4-byte signed-note key ID. */
  readonly keyId: Uint8Array;
}

/** Public half of a signing key as a note verifier uses it. */
export interface NoteVerifierKey {
  readonly name: string;
  readonly keyId: Uint8Array;
  readonly publicKeyRaw: Uint8Array;
}

/** Outcome of parsing a verifier key string. */
export type VerifierKeyParse = { ok: true; key: NoteVerifierKey } | { ok: false; reason: string };

/** Thrown when the signing key file or folder cannot be used. */
export class SigningKeyError extends Error {
  override readonly name = 'SigningKeyError';
}

// Unicode spaces, '+', and control characters, none of which a note key name may contain.
const INVALID_KEY_NAME_PATTERN = /[\s+\p{Cc}]/u;

/** Returns a description of why `name` cannot be a signed-note key name, or null when it can. */
export function keyNameProblem(name: string): string | null {
  if (name.length === 0) return 'key name is empty';
  if (INVALID_KEY_NAME_PATTERN.test(name)) {
    return `key name ${JSON.stringify(name)} contains a space, a '+' or a control character`;
  }
  if (/[\uD800-\uDFFF]/u.test(name)) return 'key name contains an unpaired UTF-16 surrogate';
  return null;
}

function requireKeyName(name: string): void {
  const problem = keyNameProblem(name);
  if (problem !== null) throw new RangeError(problem);
}

/** Computes the Ed25519 note key ID, SHA-256(name || 0x0A || 0x01 || public key)[:4]. */
export function noteKeyId(name: string, publicKeyRaw: Uint8Array): Uint8Array {
  const digest = createHash('sha256')
    .update(name, 'utf8')
    .update(Uint8Array.of(0x0a, ED25519_SIGNATURE_TYPE))
    .update(publicKeyRaw)
    .digest();
  return Uint8Array.from(digest.subarray(0, 4));
}

/** Formats a verifier key string `<name>+<hex key ID>+<base64(0x01 || public key)>`. */
export function formatVerifierKey(name: string, publicKeyRaw: Uint8Array): string {
  requireKeyName(name);
  if (publicKeyRaw.length !== ED25519_PUBLIC_KEY_SIZE) {
    throw new RangeError(`Ed25519 public key must be 32 bytes, got ${publicKeyRaw.length}`);
  }
  const keyIdHex = Buffer.from(noteKeyId(name, publicKeyRaw)).toString('hex');
  const encodedKey = Buffer.concat([Uint8Array.of(ED25519_SIGNATURE_TYPE), publicKeyRaw]);
  return `${name}+${keyIdHex}+${encodedKey.toString('base64')}`;
}

/** Decodes standard padded base64, returning null unless `text` is its exact encoding. */
export function decodeStrictBase64(text: string): Buffer | null {
  const decoded = Buffer.from(text, 'base64');
  return decoded.toString('base64') === text ? decoded : null;
}

/**
 * Parses a verifier key string and checks that its key ID matches the name and public key.
 * Only Ed25519 keys (type byte 0x01) are accepted.
 */
export function parseVerifierKey(text: string): VerifierKeyParse {
  // Key names never contain '+', but base64 can, so only the first two '+' separate fields.
  const firstPlus = text.indexOf('+');
  const secondPlus = text.indexOf('+', firstPlus + 1);
  if (firstPlus < 0 || secondPlus < 0) {
    return { ok: false, reason: 'verifier key must be <name>+<key ID>+<key>' };
  }
  const name = text.slice(0, firstPlus);
  const keyIdHex = text.slice(firstPlus + 1, secondPlus);
  const encodedKey = text.slice(secondPlus + 1);
  const nameProblem = keyNameProblem(name);
  if (nameProblem !== null) return { ok: false, reason: nameProblem };
  if (!/^[0-9a-fA-F]{8}$/.test(keyIdHex)) {
    return { ok: false, reason: 'verifier key ID must be 8 hex digits' };
  }
  const keyBytes = decodeStrictBase64(encodedKey);
  if (keyBytes === null || keyBytes.length !== 1 + ED25519_PUBLIC_KEY_SIZE) {
    return { ok: false, reason: 'verifier public key must be base64 of 33 bytes' };
  }
  if (keyBytes[0] !== ED25519_SIGNATURE_TYPE) {
    return { ok: false, reason: `unsupported signature type 0x${keyBytes[0]?.toString(16)}` };
  }
  const publicKeyRaw = Uint8Array.from(keyBytes.subarray(1));
  const keyId = noteKeyId(name, publicKeyRaw);
  if (Buffer.from(keyId).toString('hex') !== keyIdHex.toLowerCase()) {
    return { ok: false, reason: 'verifier key ID does not match the name and public key' };
  }
  return { ok: true, key: { name, keyId, publicKeyRaw } };
}

function rawPublicKey(publicKey: KeyObject): Uint8Array {
  const jwk = publicKey.export({ format: 'jwk' });
  if (typeof jwk.x !== 'string') throw new SigningKeyError('Ed25519 public key has no x value');
  return Uint8Array.from(Buffer.from(jwk.x, 'base64url'));
}

function signingKeyFromPrivateKey(privateKey: KeyObject, name: string): AuditSigningKey {
  requireKeyName(name);
  if (privateKey.asymmetricKeyType !== 'ed25519') {
    throw new SigningKeyError(
      `audit signing key must be Ed25519, got ${String(privateKey.asymmetricKeyType)}`,
    );
  }
  const publicKey = createPublicKey(privateKey);
  const publicKeyRaw = rawPublicKey(publicKey);
  return { name, privateKey, publicKey, publicKeyRaw, keyId: noteKeyId(name, publicKeyRaw) };
}

/** Generates a new Ed25519 signing key with note key name `name`. */
export function generateSigningKey(name: string): AuditSigningKey {
  const { privateKey } = generateKeyPairSync('ed25519');
  return signingKeyFromPrivateKey(privateKey, name);
}

/**
 * Reads an Ed25519 signing key from PKCS#8 PEM text.
 *
 * @throws SigningKeyError when the PEM contains another key type.
 */
export function signingKeyFromPem(pem: string, name: string): AuditSigningKey {
  return signingKeyFromPrivateKey(createPrivateKey({ key: pem, format: 'pem' }), name);
}

/** Exports the private key as unencrypted PKCS#8 PEM. */
export function privateKeyPem(key: AuditSigningKey): string {
  return key.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
}

/** Exports the public key as SPKI PEM. */
export function publicKeyPem(key: AuditSigningKey): string {
  return key.publicKey.export({ type: 'spki', format: 'pem' }).toString();
}

/** Formats the public key as a signed-note verifier key string. */
export function verifierKeyString(key: AuditSigningKey): string {
  return formatVerifierKey(key.name, key.publicKeyRaw);
}

/** Signs `message` with Ed25519 (RFC 8032, pure mode) and returns the 64-byte signature. */
export function signEd25519(key: AuditSigningKey, message: Uint8Array): Uint8Array {
  return Uint8Array.from(sign(null, message, key.privateKey));
}

/**
 * Verifies an Ed25519 signature over `message` by a raw 32-byte public key with the OpenSSL
 * bundled in Node. Returns false, without throwing, for wrong sizes and unusable keys.
 */
export function verifyEd25519(
  publicKeyRaw: Uint8Array,
  message: Uint8Array,
  signature: Uint8Array,
): boolean {
  if (publicKeyRaw.length !== ED25519_PUBLIC_KEY_SIZE) return false;
  if (signature.length !== ED25519_SIGNATURE_SIZE) return false;
  try {
    const publicKey = createPublicKey({
      key: { kty: 'OKP', crv: 'Ed25519', x: Buffer.from(publicKeyRaw).toString('base64url') },
      format: 'jwk',
    });
    return verify(null, message, publicKey, signature);
  } catch {
    return false;
  }
}

// Mode bits are not enforced on Windows, so the permission checks only run on POSIX systems.
const CHECK_MODES = process.platform !== 'win32';

function describeMode(mode: number): string {
  return (mode & 0o777).toString(8).padStart(4, '0');
}

async function checkKeyFolder(directory: string): Promise<void> {
  const stats = await lstat(directory);
  if (!stats.isDirectory()) {
    throw new SigningKeyError(`audit signing key folder ${directory} is not a directory`);
  }
  // A folder that others can write lets them replace the key file.
  if (CHECK_MODES && (stats.mode & 0o022) !== 0) {
    throw new SigningKeyError(
      `audit signing key folder ${directory} has mode ${describeMode(stats.mode)}, which lets ` +
        `group or other users write to it. Run chmod 700 on it.`,
    );
  }
}

/**
 * Reads the signing key file, rejecting it unless it is a regular file (not a symlink) owned by
 * this process's user with no group or other permission bits.
 */
async function readKeyFile(filePath: string, name: string): Promise<AuditSigningKey> {
  let handle;
  try {
    // O_NOFOLLOW makes open fail on a symlink, so the checks below apply to the file read.
    handle = await open(filePath, constants.O_RDONLY | constants.O_NOFOLLOW);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ELOOP') throw error;
    throw new SigningKeyError(
      `audit signing key file ${filePath} is a symbolic link. Replace it with the key file itself.`,
    );
  }
  try {
    const stats = await handle.stat();
    if (!stats.isFile()) {
      throw new SigningKeyError(`audit signing key file ${filePath} is not a regular file`);
    }
    if (CHECK_MODES && (stats.mode & 0o077) !== 0) {
      throw new SigningKeyError(
        `audit signing key file ${filePath} has mode ${describeMode(stats.mode)}, which gives ` +
          `group or other users access. Run chmod 600 on it.`,
      );
    }
    const uid = process.getuid?.();
    if (CHECK_MODES && uid !== undefined && stats.uid !== uid) {
      throw new SigningKeyError(
        `audit signing key file ${filePath} is owned by uid ${stats.uid}, not by this process ` +
          `(uid ${uid})`,
      );
    }
    return signingKeyFromPem(await handle.readFile('utf8'), name);
  } finally {
    await handle.close();
  }
}

async function writeNewKeyFile(filePath: string, name: string): Promise<void> {
  const pem = privateKeyPem(generateSigningKey(name));
  const temporaryPath = `${filePath}.${randomBytes(6).toString('hex')}.tmp`;
  // 'wx' is O_CREAT | O_EXCL: the file is created with mode 0600 or the call fails.
  const handle = await open(temporaryPath, 'wx', 0o600);
  try {
    await handle.writeFile(pem, 'utf8');
    await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    // link() fails if the target exists, so two processes starting at once cannot both install a
    // key, and readers never see a partly written file.
    await link(temporaryPath, filePath);
  } catch (error) {
    // EEXIST means another process installed a key first, and the caller loads that one.
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  } finally {
    await unlink(temporaryPath);
  }
}

/**
 * Loads the audit signing key from `SIGNING_KEY_FILE` in `directory`, first creating the folder
 * (mode 0700) and a new Ed25519 key file (PKCS#8 PEM, mode 0600) when they do not exist. Keep
 * this folder apart from the database, so that a database copy does not include the key.
 *
 * @throws SigningKeyError when the folder or file has unsafe permissions or contains another key type.
 */
export async function loadOrCreateSigningKey(
  directory: string,
  name: string,
): Promise<AuditSigningKey> {
  requireKeyName(name);
  await mkdir(directory, { recursive: true, mode: 0o700 });
  await checkKeyFolder(directory);
  const filePath = path.join(directory, SIGNING_KEY_FILE);
  try {
    return await readKeyFile(filePath, name);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  await writeNewKeyFile(filePath, name);
  return readKeyFile(filePath, name);
}
