import { isIPv4 } from 'node:net';

/** Maximum length of a stored sample, in characters, after masking. */
export const MAX_SAMPLE_LENGTH = 200;

/** Maximum length of a stored location, in characters. */
export const MAX_LOCATION_LENGTH = 200;

/** Characters of raw input a listener keeps until the writer masks them. */
export const RAW_SAMPLE_LENGTH = 2048;

const ELLIPSIS = '…';

type Replacer = (match: string, ...groups: string[]) => string;

const placeholder =
  (text: string): Replacer =>
  () =>
    text;

/**
 * Masks applied in order, so earlier ones see the text before later ones replace parts of it.
 * No pattern nests quantifiers, so no match attempt backtracks further than one run of
 * characters.
 */
const MASKS: ReadonlyArray<readonly [RegExp, Replacer]> = [
  // Credentials of HTTP authentication schemes.
  [/\b(bearer|basic|digest)\s+[A-Za-z0-9._~+/=-]+/gi, (_match, scheme) => `${scheme} [token]`],
  // Credentials written as name=value or "name": "value" in queries, forms, JSON and cookies.
  [
    /\b(password|passwd|pass|pwd|client[_-]?secret|secret|access[_-]?token|refresh[_-]?token|token|x-api-key|api[_-]?key|authorization|session[_-]?id|session|totp|otp)(["']?\s*(?:[:=]|%3[ad])\s*["']?)[^\s"'&,;}]+/gi,
    (_match, name, separator) => `${name}${separator}[secret]`,
  ],
  // MindWeave API keys, provider keys and other well-known key formats.
  [/\bmw_(?:live|test)_[A-Za-z0-9_-]+/g, placeholder('[api-key]')],
  [/\bsk-[A-Za-z0-9_-]{6,}/g, placeholder('[api-key]')],
  [/\b(?:AKIA|ASIA)[0-9A-Z]{16}\b/g, placeholder('[api-key]')],
  [/\bgh[pousr]_[A-Za-z0-9]{20,}/g, placeholder('[api-key]')],
  [/\bxox[abposr]-[A-Za-z0-9-]{10,}/g, placeholder('[api-key]')],
  [/\bglpat-[A-Za-z0-9_-]{20,}/g, placeholder('[api-key]')],
  // JSON Web Tokens.
  [/\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*/g, placeholder('[token]')],
  // Words of e-mail characters are checked for an address as a whole.
  [/[A-Za-z0-9._%+@-]+/g, maskEmail],
  // Long random-looking strings (hex or base64 keys and session ids).
  [/[A-Za-z0-9+/_-]+={0,2}/g, maskRandomLooking],
  // Digit groups: card, phone, account and document numbers.
  [/\+?\d[\d ().-]*\d/g, maskDigits],
];

// The `@` of an address, also percent-encoded once or more (`%40`, `%2540`), as headers and
// doubly encoded paths carry it.
const EMAIL_ADDRESS = /^[^@]+?(?:@|%(?:25)*40)[A-Za-z0-9-]+\.[A-Za-z0-9-]/i;

function maskEmail(word: string): string {
  return EMAIL_ADDRESS.test(word) ? '[email]' : word;
}

function maskRandomLooking(word: string): string {
  return word.length >= 32 && /\d/.test(word) && /[A-Za-z]/.test(word) ? '[secret]' : word;
}

/**
 * Masks a run of digits and separators with at least 7 digits: 13 to 19 digits grouped by
 * spaces or dashes as `[card]`, bare digits as `[number]`, other groupings as `[phone]`.
 * Dotted IPv4 addresses are kept.
 */
function maskDigits(run: string): string {
  const digits = run.replace(/\D/g, '').length;
  if (digits < 7 || isIPv4(run)) return run;
  if (digits >= 13 && digits <= 19 && /^[\d -]+$/.test(run)) return '[card]';
  return /^\d+$/.test(run) ? '[number]' : '[phone]';
}

/** Writes control characters as `\xNN`, so a NUL byte or a line break in an attack stays visible. */
function escapeControlCharacters(text: string): string {
  return text.replace(
    // eslint-disable-next-line no-control-regex -- control characters are what this replaces
    /[\u0000-\u001f\u007f-\u009f]/g,
    (character) => `\\x${character.charCodeAt(0).toString(16).padStart(2, '0')}`,
  );
}

function truncate(text: string, maxLength: number): string {
  if (text.length <= maxLength) return text;
  return text.slice(0, maxLength - ELLIPSIS.length).toWellFormed() + ELLIPSIS;
}

/**
 * Returns the start of `value` that a listener keeps for the writer: one character more than
 * {@link RAW_SAMPLE_LENGTH} when it is longer, so {@link maskSample} can tell that it was cut.
 */
export function clipRawSample(value: string): string {
  return value.length > RAW_SAMPLE_LENGTH ? value.slice(0, RAW_SAMPLE_LENGTH + 1) : value;
}

/** Replaces personal data and credentials in `text` with placeholders such as `[email]`. */
export function maskPersonalData(text: string): string {
  let masked = text.toWellFormed();
  for (const [pattern, replacement] of MASKS) {
    masked = masked.replace(pattern, replacement);
  }
  return masked;
}

const TOKEN_DELIMITERS = new Set([...' \t\r\n&;,"\'<>()[]{}']);

// A cut token at least this long keeps its start: the masks for keys, tokens and digit runs
// already match within its first characters.
const KEEP_CUT_TOKEN_LENGTH = 64;

/**
 * Removes the token that clipping cut, because a credential cut in half may no longer match
 * its mask. A long token keeps its start, unless it contains `@`: an e-mail address needs
 * its domain to be recognised.
 */
function dropCutToken(text: string): string {
  let start = text.length;
  while (start > 0 && !TOKEN_DELIMITERS.has(text.charAt(start - 1))) start -= 1;
  const token = text.slice(start);
  if (token.length >= KEEP_CUT_TOKEN_LENGTH && !token.includes('@')) return text;
  return text.slice(0, start);
}

/**
 * Prepares offending input for storage: masks personal data and credentials, writes control
 * characters as escapes and truncates to {@link MAX_SAMPLE_LENGTH} characters. Input that
 * {@link clipRawSample} cut loses its cut last token first.
 */
export function maskSample(raw: string): string {
  const text = raw.length > RAW_SAMPLE_LENGTH ? dropCutToken(raw.slice(0, RAW_SAMPLE_LENGTH)) : raw;
  return truncate(escapeControlCharacters(maskPersonalData(text)), MAX_SAMPLE_LENGTH);
}

/** Prepares a location such as `query:email` for storage, masked and truncated like a sample. */
export function maskLocation(location: string): string {
  return truncate(escapeControlCharacters(maskPersonalData(location)), MAX_LOCATION_LENGTH);
}
