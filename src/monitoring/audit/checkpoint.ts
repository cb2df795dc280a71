import { HASH_SIZE } from './merkle.js';
import { hasInvalidNoteCharacter, signNote, verifyNote, type NoteFailure } from './signed-note.js';
import {
  decodeStrictBase64,
  keyNameProblem,
  parseVerifierKey,
  type AuditSigningKey,
  type NoteVerifierKey,
} from './signing-key.js';

/**
 * Checkpoints in the C2SP tlog-checkpoint format: a signed note whose text is the origin, the
 * tree size in decimal, the base64 RFC 6962 root hash, and optional extension lines.
 *
 * In this log, the origin equals the signing key name, and the first extension line is
 * `time <UTC timestamp>` in the `Date.prototype.toISOString` form, the time the log signed the
 * checkpoint.
 */

/** Prefix of the extension line that contains the checkpoint time. */
export const TIME_LINE_PREFIX = 'time ';

const TREE_SIZE_PATTERN = /^(0|[1-9][0-9]*)$/;
const TIME_PATTERN = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

/** Tree head of the log at one size. */
export interface Checkpoint {
  /** Log identity, equal to the signing key name. */
  origin: string;
  /** Number of leaves, at most 2^53 - 1. */
  treeSize: number;
  /** 32-byte RFC 6962 root hash at `treeSize`. */
  rootHash: Uint8Array;
  /** Signing time as `YYYY-MM-DDTHH:MM:SS.sssZ`, or null when the checkpoint has no time line. */
  time: string | null;
  /** Extension lines after the time line, in order. */
  extensions: string[];
}

/** Outcome of `parseCheckpoint`. */
export type CheckpointParse = { ok: true; checkpoint: Checkpoint } | NoteFailure;

/** Outcome of `verifyCheckpoint`. */
export type CheckpointVerification = { ok: true; checkpoint: Checkpoint } | NoteFailure;

function malformed(detail: string): NoteFailure {
  return { ok: false, reason: 'malformed', detail };
}

/**
 * Formats a checkpoint as note text, one line each for the origin, tree size, base64 root hash,
 * time (when not null) and extension lines.
 *
 * @throws RangeError when a field cannot be represented.
 */
export function formatCheckpoint(checkpoint: Checkpoint): string {
  const originProblem = keyNameProblem(checkpoint.origin);
  if (originProblem !== null) throw new RangeError(`invalid origin: ${originProblem}`);
  if (!Number.isSafeInteger(checkpoint.treeSize) || checkpoint.treeSize < 0) {
    throw new RangeError(
      `tree size must be a non-negative safe integer, got ${checkpoint.treeSize}`,
    );
  }
  if (checkpoint.rootHash.length !== HASH_SIZE) {
    throw new RangeError(`root hash must be ${HASH_SIZE} bytes, got ${checkpoint.rootHash.length}`);
  }
  const lines = [
    checkpoint.origin,
    String(checkpoint.treeSize),
    Buffer.from(checkpoint.rootHash).toString('base64'),
  ];
  if (checkpoint.time !== null) {
    if (!TIME_PATTERN.test(checkpoint.time)) {
      throw new RangeError(`time must be YYYY-MM-DDTHH:MM:SS.sssZ, got ${checkpoint.time}`);
    }
    lines.push(TIME_LINE_PREFIX + checkpoint.time);
  }
  // Without a time, a first extension line starting with "time " would parse back as the time.
  if (checkpoint.time === null && checkpoint.extensions[0]?.startsWith(TIME_LINE_PREFIX)) {
    throw new RangeError('the first extension line must not start with "time "');
  }
  for (const extension of checkpoint.extensions) {
    if (extension.length === 0 || extension.includes('\n') || hasInvalidNoteCharacter(extension)) {
      throw new RangeError('extension lines must be non-empty without control characters');
    }
    lines.push(extension);
  }
  return `${lines.join('\n')}\n`;
}

/** Parses checkpoint note text, returning a `malformed` failure for any deviation. */
export function parseCheckpoint(text: string): CheckpointParse {
  if (!text.endsWith('\n')) return malformed('checkpoint text must end with a newline');
  const lines = text.slice(0, -1).split('\n');
  if (lines.length < 3) return malformed('checkpoint needs origin, tree size and root hash lines');
  if (lines.some((line) => line.length === 0)) return malformed('checkpoint has an empty line');
  if (lines.some((line) => hasInvalidNoteCharacter(line))) {
    return malformed('checkpoint contains a control character or invalid UTF-16');
  }

  const [origin, sizeText, rootText, ...rest] = lines as [string, string, string, ...string[]];
  if (!TREE_SIZE_PATTERN.test(sizeText)) {
    return malformed(
      `tree size ${JSON.stringify(sizeText)} is not a decimal without leading zeros`,
    );
  }
  const treeSize = Number(sizeText);
  if (!Number.isSafeInteger(treeSize)) {
    return malformed(`tree size ${sizeText} is larger than 2^53 - 1, which is not supported`);
  }

  const rootHash = decodeStrictBase64(rootText);
  if (rootHash === null || rootHash.length !== HASH_SIZE) {
    return malformed(`root hash must be base64 of ${HASH_SIZE} bytes`);
  }

  let time: string | null = null;
  let extensions = rest;
  if (rest[0]?.startsWith(TIME_LINE_PREFIX) === true) {
    time = rest[0].slice(TIME_LINE_PREFIX.length);
    if (!TIME_PATTERN.test(time)) return malformed(`time line has an invalid time ${time}`);
    extensions = rest.slice(1);
  }
  return {
    ok: true,
    checkpoint: { origin, treeSize, rootHash: Uint8Array.from(rootHash), time, extensions },
  };
}

/**
 * Signs checkpoint note text (from `formatCheckpoint`) and returns the signed note.
 *
 * @throws RangeError when `body` is not a valid checkpoint or its origin is not the key name.
 */
export function signCheckpoint(body: string, key: AuditSigningKey): string {
  const parsed = parseCheckpoint(body);
  if (!parsed.ok) throw new RangeError(`invalid checkpoint: ${parsed.detail}`);
  if (parsed.checkpoint.origin !== key.name) {
    throw new RangeError(
      `checkpoint origin ${parsed.checkpoint.origin} differs from signing key name ${key.name}`,
    );
  }
  return signNote(body, key);
}

/**
 * Verifies a signed checkpoint against the log's verifier key and parses it. Never throws for bad
 * input: failures are `malformed`, `invalid_verifier_key`, `unknown_key` (no signature by this
 * key), `bad_signature`, or `origin_mismatch` (origin differs from the key name).
 */
export function verifyCheckpoint(
  noteText: string,
  verifierKey: NoteVerifierKey | string,
): CheckpointVerification {
  let key: NoteVerifierKey;
  if (typeof verifierKey === 'string') {
    const parsedKey = parseVerifierKey(verifierKey);
    if (!parsedKey.ok)
      return { ok: false, reason: 'invalid_verifier_key', detail: parsedKey.reason };
    key = parsedKey.key;
  } else {
    key = verifierKey;
  }
  const verified = verifyNote(noteText, key);
  if (!verified.ok) return verified;
  const parsed = parseCheckpoint(verified.text);
  if (!parsed.ok) return parsed;
  if (parsed.checkpoint.origin !== key.name) {
    return {
      ok: false,
      reason: 'origin_mismatch',
      detail: `checkpoint origin ${parsed.checkpoint.origin} differs from key name ${key.name}`,
    };
  }
  return parsed;
}
