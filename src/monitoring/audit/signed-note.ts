import {
  decodeStrictBase64,
  keyNameProblem,
  parseVerifierKey,
  signEd25519,
  verifyEd25519,
  type AuditSigningKey,
  type NoteVerifierKey,
} from './signing-key.js';

/**
 * Signed notes in the C2SP signed-note format: the note text (ending in a newline), a blank line,
 * then one line per signature, `— <key name> <base64(4-byte key ID || signature)>`, where `—` is
 * the em dash U+2014.
 */

/** Maximum number of signature lines in one note. The format requires accepting at least 16. */
export const MAX_NOTE_SIGNATURES = 100;

/** Maximum length of a whole note, in UTF-16 code units. */
export const MAX_NOTE_LENGTH = 1_000_000;

const SIGNATURE_PREFIX = '\u2014 ';
const KEY_ID_SIZE = 4;

/** One parsed signature line. */
export interface NoteSignature {
  keyName: string;
  /** 4-byte key ID from the start of the decoded signature field. */
  keyId: Uint8Array;
  /** Signature bytes after the key ID. */
  signature: Uint8Array;
}

/** A note split into its text and signature lines, with no signature checked yet. */
export interface SignedNote {
  /** Signed text, including its final newline but not the blank separator line. */
  text: string;
  signatures: NoteSignature[];
}

/** Reason a note failed parsing or verification. */
export type NoteFailureReason =
  'malformed' | 'invalid_verifier_key' | 'unknown_key' | 'bad_signature' | 'origin_mismatch';

/** Verification failure with its reason and a description for logs. */
export interface NoteFailure {
  ok: false;
  reason: NoteFailureReason;
  detail: string;
}

/** Outcome of `parseSignedNote`. */
export type SignedNoteParse = { ok: true; note: SignedNote } | NoteFailure;

/** Outcome of `verifyNote`. On success, `text` is the verified note text. */
export type NoteVerification = { ok: true; text: string } | NoteFailure;

function failure(reason: NoteFailureReason, detail: string): NoteFailure {
  return { ok: false, reason, detail };
}

// With the `u` flag this matches only unpaired surrogates, which UTF-8 cannot encode.
const UNPAIRED_SURROGATE_PATTERN = /[\uD800-\uDFFF]/u;

/** Reports whether `text` has an ASCII control character other than newline, or invalid UTF-16. */
export function hasInvalidNoteCharacter(text: string): boolean {
  for (let index = 0; index < text.length; index += 1) {
    const code = text.charCodeAt(index);
    if (code < 0x20 && code !== 0x0a) return true;
  }
  return UNPAIRED_SURROGATE_PATTERN.test(text);
}

/** Returns why `text` cannot be note text, or null when it can. */
export function noteTextProblem(text: string): string | null {
  if (!text.endsWith('\n')) return 'note text must end with a newline';
  if (hasInvalidNoteCharacter(text)) {
    return 'note contains a control character other than newline or invalid UTF-16';
  }
  return null;
}

function parseSignatureLine(line: string): NoteSignature | string {
  if (!line.startsWith(SIGNATURE_PREFIX)) return 'signature line does not start with "— "';
  const fields = line.slice(SIGNATURE_PREFIX.length).split(' ');
  if (fields.length !== 2) return 'signature line must be "— <key name> <base64 signature>"';
  const [keyName, encoded] = fields as [string, string];
  const nameProblem = keyNameProblem(keyName);
  if (nameProblem !== null) return nameProblem;
  const decoded = decodeStrictBase64(encoded);
  if (decoded === null) return `signature of ${keyName} is not standard padded base64`;
  if (decoded.length <= KEY_ID_SIZE) return `signature of ${keyName} is too short`;
  return {
    keyName,
    keyId: Uint8Array.from(decoded.subarray(0, KEY_ID_SIZE)),
    signature: Uint8Array.from(decoded.subarray(KEY_ID_SIZE)),
  };
}

/**
 * Splits a signed note into its text and signature lines without checking any signature. The
 * text ends at the last blank line, so the text itself may contain blank lines.
 */
export function parseSignedNote(noteText: string): SignedNoteParse {
  if (noteText.length > MAX_NOTE_LENGTH) {
    return failure('malformed', `note is longer than ${MAX_NOTE_LENGTH} characters`);
  }
  const problem = noteTextProblem(noteText);
  if (problem !== null) return failure('malformed', problem);
  const separator = noteText.lastIndexOf('\n\n');
  if (separator < 0) return failure('malformed', 'note has no blank line before its signatures');
  const text = noteText.slice(0, separator + 1);
  const lines = noteText.slice(separator + 2, -1).split('\n');
  if (lines.length > MAX_NOTE_SIGNATURES) {
    return failure('malformed', `note has more than ${MAX_NOTE_SIGNATURES} signatures`);
  }
  const signatures: NoteSignature[] = [];
  for (const line of lines) {
    const parsed = parseSignatureLine(line);
    if (typeof parsed === 'string') return failure('malformed', parsed);
    signatures.push(parsed);
  }
  return { ok: true, note: { text, signatures } };
}

/**
 * Signs note text with an Ed25519 key and returns the signed note.
 *
 * @throws RangeError when `text` does not end with a newline or contains control characters.
 */
export function signNote(text: string, key: AuditSigningKey): string {
  const problem = noteTextProblem(text);
  if (problem !== null) throw new RangeError(problem);
  const signature = signEd25519(key, Buffer.from(text, 'utf8'));
  const encoded = Buffer.concat([key.keyId, signature]).toString('base64');
  return `${text}\n${SIGNATURE_PREFIX}${key.name} ${encoded}\n`;
}

function keyIdsEqual(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.from(a).equals(b);
}

/**
 * Verifies a signed note against one trusted Ed25519 key. Signatures whose key name or key ID
 * differ from the trusted key are ignored. Every signature line of the trusted key must verify,
 * and at least one must be present. Accepts a `NoteVerifierKey` or its verifier key string.
 */
export function verifyNote(
  noteText: string,
  verifierKey: NoteVerifierKey | string,
): NoteVerification {
  let key: NoteVerifierKey;
  if (typeof verifierKey === 'string') {
    const parsedKey = parseVerifierKey(verifierKey);
    if (!parsedKey.ok) return failure('invalid_verifier_key', parsedKey.reason);
    key = parsedKey.key;
  } else {
    key = verifierKey;
  }
  const parsed = parseSignedNote(noteText);
  if (!parsed.ok) return parsed;
  const message = Buffer.from(parsed.note.text, 'utf8');
  let verified = 0;
  for (const line of parsed.note.signatures) {
    if (line.keyName !== key.name || !keyIdsEqual(line.keyId, key.keyId)) continue;
    if (!verifyEd25519(key.publicKeyRaw, message, line.signature)) {
      return failure('bad_signature', `signature of ${key.name} does not verify`);
    }
    verified += 1;
  }
  if (verified === 0) return failure('unknown_key', `note has no signature by ${key.name}`);
  return { ok: true, text: parsed.note.text };
}
