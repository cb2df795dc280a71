/**
 * Value transformations applied before rules match. Every function runs in time linear
 * in its input without regular expressions, and returns the input string itself when
 * there is nothing to change.
 */

/** Names of the transformations a rule can request, applied in the order listed. */
export type TransformName =
  | 'urlDecode'
  | 'htmlEntityDecode'
  | 'unicode'
  | 'normalizePath'
  | 'lowercase'
  | 'removeComments'
  | 'compressWhitespace'
  | 'shellUnescape';

/** Maximum rounds of percent-decoding, so `%252e` becomes `.` but decoding stays bounded. */
export const MAX_URL_DECODE_ROUNDS = 3;

function hexValue(code: number): number {
  if (code >= 48 && code <= 57) return code - 48;
  const lower = code | 0x20;
  if (lower >= 97 && lower <= 102) return lower - 87;
  return -1;
}

function pushUtf8(bytes: number[], codePoint: number): void {
  const text = String.fromCodePoint(codePoint);
  for (const byte of Buffer.from(text, 'utf8')) bytes.push(byte);
}

/**
 * Decodes UTF-8 bytes. Overlong two-byte forms such as `C0 AE` (a disguised `.`)
 * decode to their ASCII character instead of U+FFFD, because traversal attacks use them.
 */
function decodeBytes(bytes: number[]): string {
  const cleaned: number[] = [];
  for (let i = 0; i < bytes.length; i++) {
    const byte = bytes[i] ?? 0;
    const next = bytes[i + 1] ?? 0;
    if ((byte === 0xc0 || byte === 0xc1) && (next & 0xc0) === 0x80) {
      cleaned.push(((byte & 0x1f) << 6) | (next & 0x3f));
      i++;
    } else {
      cleaned.push(byte);
    }
  }
  return Buffer.from(cleaned).toString('utf8');
}

/** Decodes `%XX` and `%uXXXX` escapes once; `+` stays literal. */
export function urlDecodeOnce(input: string): string {
  if (!input.includes('%')) return input;
  const bytes: number[] = [];
  for (let i = 0; i < input.length; i++) {
    const code = input.charCodeAt(i);
    if (code === 37 /* % */) {
      const h1 = hexValue(input.charCodeAt(i + 1));
      const h2 = hexValue(input.charCodeAt(i + 2));
      if (h1 >= 0 && h2 >= 0) {
        bytes.push(h1 * 16 + h2);
        i += 2;
        continue;
      }
      if ((input.charCodeAt(i + 1) | 0x20) === 117 /* u */) {
        const digits = [2, 3, 4, 5].map((offset) => hexValue(input.charCodeAt(i + offset)));
        if (digits.every((digit) => digit >= 0)) {
          pushUtf8(
            bytes,
            digits.reduce((sum, digit) => sum * 16 + digit, 0),
          );
          i += 5;
          continue;
        }
      }
    }
    if (code < 0x80) {
      bytes.push(code);
    } else {
      const codePoint = input.codePointAt(i) ?? code;
      pushUtf8(bytes, codePoint);
      if (codePoint > 0xffff) i++;
    }
  }
  return decodeBytes(bytes);
}

/** Percent-decodes until the value stops changing, at most `MAX_URL_DECODE_ROUNDS` times. */
export function urlDecode(input: string): string {
  let current = input;
  for (let round = 0; round < MAX_URL_DECODE_ROUNDS; round++) {
    const next = urlDecodeOnce(current);
    if (next === current) break;
    current = next;
  }
  return current;
}

/** Decodes a form or query component: `+` is a space, then one round of percent-decoding. */
export function formDecode(input: string): string {
  return urlDecodeOnce(input.includes('+') ? input.split('+').join(' ') : input);
}

/** Applies NFKC, which also folds full-width ASCII such as `＜` to `<`. */
export function normalizeUnicode(input: string): string {
  for (let i = 0; i < input.length; i++) {
    if (input.charCodeAt(i) > 0x7f) return input.normalize('NFKC');
  }
  return input;
}

function isSpace(code: number): boolean {
  return code === 32 || (code >= 9 && code <= 13) || code === 0xa0;
}

function needsCompression(input: string): boolean {
  for (let i = 0; i < input.length; i++) {
    const code = input.charCodeAt(i);
    if (!isSpace(code)) continue;
    if (code !== 32 || isSpace(input.charCodeAt(i + 1))) return true;
  }
  return false;
}

/** Replaces every run of whitespace with one space. */
export function compressWhitespace(input: string): string {
  if (!needsCompression(input)) return input;
  let out = '';
  let inSpace = false;
  let changed = false;
  for (let i = 0; i < input.length; i++) {
    const code = input.charCodeAt(i);
    if (isSpace(code)) {
      if (!inSpace) out += ' ';
      changed ||= inSpace || code !== 32;
      inSpace = true;
    } else {
      out += input[i];
      inSpace = false;
    }
  }
  return changed ? out : input;
}

/**
 * Turns `\` into `/`, collapses repeated slashes and drops `./` segments. It keeps
 * `..` segments, because traversal rules look for them.
 */
export function normalizePath(input: string): string {
  if (!input.includes('\\') && !input.includes('//') && !input.includes('./')) return input;
  const slashed = input.split('\\').join('/');
  const segments = slashed.split('/');
  const keptSegments: string[] = [];
  for (let i = 0; i < segments.length; i++) {
    const segment = segments[i] ?? '';
    if (segment === '.' || (segment === '' && i > 0 && i < segments.length - 1)) continue;
    keptSegments.push(segment);
  }
  return keptSegments.join('/');
}

/** Returns the lower-cased value. */
export function lowercase(input: string): string {
  return input.toLowerCase();
}
