/**
 * SQL lexer for injection detection. It reads a value as SQL and returns one
 * character per token, the fingerprint, which `sqli-detector.ts` matches against
 * shapes typical of injection. Token letters:
 *
 * - `s` string literal, `n` number or literal value (`null`, `true`), `w` other word
 * - `v` user variable `@x`, `V` system variable `@@version`
 * - `&` logical operator (`and`, `or`, `xor`, `&&`, `||`), `=` comparison symbol
 *   (`=`, `<>`, `<=`, ...), `L` comparison word (`like`, `in`, `is`, ...), `o` other operator
 * - `U` `union` (with a following `all` / `distinct` folded in)
 * - `E` `select`, `M` data change (`insert`, `update`, `delete`, `replace`),
 *   `T` schema change (`drop`, `create`, `alter`, `truncate`, `rename`),
 *   `X` procedural command (`exec`, `declare`, `waitfor`, `shutdown`)
 * - `K` clause that can follow a value (`order by`, `group by`, `having`, `limit`,
 *   `into`, `procedure`, `from`, `where`), `k` other keyword
 * - `f` function call, `F` call of a function used mainly by attacks (`sleep`, `benchmark`, ...)
 * - `(` `)` `,` `;` `.` punctuation
 * - `c` comment that ends the statement in every dialect (`-- `, `/*`), `C` comment
 *   only some dialects accept (`#`, `--` without a following blank); both end lexing
 */
import { SQL_ATTACK_FUNCTIONS, SQL_FUNCTIONS, SQL_WORD_CLASSES } from './sqli-words.js';

/** Maximum tokens lexed per value; injection shapes sit in the first few dozen tokens. */
export const MAX_SQL_TOKENS = 64;

/** Lexer output: one letter per token, and whether the first token is a string closed inside the input. */
export interface SqlFingerprint {
  fingerprint: string;
  firstStringClosed: boolean;
}

function isDigit(code: number): boolean {
  return code >= 48 && code <= 57;
}

function isWordChar(code: number): boolean {
  return (
    isDigit(code) ||
    ((code | 0x20) >= 97 && (code | 0x20) <= 122) ||
    code === 95 ||
    code === 36 ||
    code > 0x7f
  );
}

function isSpace(code: number): boolean {
  return code === 32 || (code >= 9 && code <= 13) || code === 0xa0;
}

/** Returns the index after a quoted literal that starts at `start`; quotes are escaped by doubling or `\`. */
function skipQuoted(input: string, start: number, quote: string): { end: number; closed: boolean } {
  let i = start + 1;
  while (i < input.length) {
    const char = input[i];
    if (char === '\\') {
      i += 2;
      continue;
    }
    if (char === quote) {
      if (input[i + 1] === quote) {
        i += 2;
        continue;
      }
      return { end: i + 1, closed: true };
    }
    i++;
  }
  return { end: input.length, closed: false };
}

/** Index of the next character that is neither whitespace nor inside a `/* *\/` comment. */
function skipBlank(input: string, start: number): number {
  let i = start;
  while (i < input.length) {
    if (isSpace(input.charCodeAt(i))) {
      i++;
    } else if (input[i] === '/' && input[i + 1] === '*' && input[i + 2] !== '!') {
      const close = input.indexOf('*/', i + 2);
      if (close < 0) return i;
      i = close + 2;
    } else {
      return i;
    }
  }
  return i;
}

function classifyWord(word: string, nextChar: string | undefined, adjacent: boolean): string {
  const lower = word.toLowerCase();
  const letter = SQL_WORD_CLASSES.get(lower);
  if (nextChar === '(') {
    if (SQL_ATTACK_FUNCTIONS.has(lower)) return 'F';
    if (SQL_FUNCTIONS.has(lower)) return 'f';
    if (adjacent && (letter === undefined || letter === 'k' || letter === 'n')) return 'f';
  }
  if (lower.startsWith('xp_') || lower.startsWith('sp_')) return 'F';
  return letter ?? 'w';
}

const OPERATOR_PAIRS: Record<string, string> = {
  '<>': '=',
  '!=': '=',
  '<=': '=',
  '>=': '=',
  ':=': '=',
  '!<': '=',
  '!>': '=',
  '||': '&',
  '&&': '&',
  '::': 'o',
};

/** Lexes `input` (expected lower-cased) into a fingerprint of at most `MAX_SQL_TOKENS` letters. */
export function sqlFingerprint(input: string): SqlFingerprint {
  let fingerprint = '';
  let firstStringClosed = false;
  let i = 0;
  while (fingerprint.length < MAX_SQL_TOKENS) {
    i = skipBlank(input, i);
    if (i >= input.length) break;
    const char = input[i] ?? '';
    const code = input.charCodeAt(i);
    const next = input[i + 1];
    if (char === "'" || char === '"') {
      const { end, closed } = skipQuoted(input, i, char);
      if (fingerprint === '') firstStringClosed = closed;
      fingerprint += 's';
      i = end;
    } else if (char === '`') {
      i = skipQuoted(input, i, '`').end;
      fingerprint += 'w';
    } else if (char === '/' && next === '*') {
      // An unterminated block comment hides the rest of the statement; `/*!` runs its content.
      if (input[i + 2] === '!') {
        i += 3;
        while (i < input.length && isDigit(input.charCodeAt(i))) i++;
      } else {
        fingerprint += 'c';
        break;
      }
    } else if (char === '*' && next === '/') {
      i += 2;
    } else if ((char === '-' && next === '-') || char === '#') {
      // `-- ` ends a statement in every dialect; `#` and `--x` only in some, and also occur in prose.
      const strong = char === '-' && (i + 2 >= input.length || isSpace(input.charCodeAt(i + 2)));
      fingerprint += strong ? 'c' : 'C';
      break;
    } else if (char === '@') {
      const system = next === '@';
      i += system ? 2 : 1;
      while (i < input.length && (isWordChar(input.charCodeAt(i)) || input[i] === '.')) i++;
      fingerprint += system ? 'V' : 'v';
    } else if (isDigit(code) || (char === '.' && isDigit(input.charCodeAt(i + 1)))) {
      const start = i;
      while (i < input.length && (isWordChar(input.charCodeAt(i)) || input[i] === '.')) i++;
      const text = input.slice(start, i);
      const numeric = /* hex, decimal, exponent */ isNumberText(text);
      fingerprint += numeric ? 'n' : 'w';
    } else if (isWordChar(code)) {
      const start = i;
      while (i < input.length && isWordChar(input.charCodeAt(i))) i++;
      const word = input.slice(start, i);
      const after = skipBlank(input, i);
      let letter = classifyWord(word, input[after], after === i);
      if (letter === 'U') {
        const following = readWord(input, after);
        if (following === 'all' || following === 'distinct') i = after + following.length;
      }
      if (letter === 'K' && (word === 'order' || word === 'group')) {
        const following = readWord(input, after);
        if (following === 'by') i = after + 2;
        else letter = 'w';
      }
      if (letter !== '!') fingerprint += letter;
    } else {
      const pair = OPERATOR_PAIRS[char + (next ?? '')];
      if (pair !== undefined) {
        fingerprint += pair;
        i += 2;
        continue;
      }
      fingerprint += punctuationLetter(char);
      i++;
    }
  }
  return { fingerprint: foldUnary(fingerprint), firstStringClosed };
}

function readWord(input: string, start: number): string {
  let end = start;
  while (end < input.length && isWordChar(input.charCodeAt(end))) end++;
  return input.slice(start, end).toLowerCase();
}

function isNumberText(text: string): boolean {
  if (text.startsWith('0x'))
    return text.length > 2 && [...text.slice(2)].every((c) => '0123456789abcdef'.includes(c));
  let sawExponent = false;
  for (const c of text) {
    if ((c >= '0' && c <= '9') || c === '.') continue;
    if (c === 'e' && !sawExponent) {
      sawExponent = true;
      continue;
    }
    return false;
  }
  return true;
}

function punctuationLetter(char: string): string {
  switch (char) {
    case '(':
    case '{':
      return '(';
    case ')':
    case '}':
      return ')';
    case ',':
    case ';':
    case '.':
    case '=':
      return char;
    case '<':
    case '>':
      return '=';
    default:
      return 'o';
  }
}

/** Drops sign operators before a number, so `-1` and `1` give the same shape. */
function foldUnary(fingerprint: string): string {
  let out = '';
  for (let i = 0; i < fingerprint.length; i++) {
    const letter = fingerprint[i];
    const previous = out.at(-1);
    const unary = previous === undefined || '&=(,;oU'.includes(previous);
    if (letter === 'o' && fingerprint[i + 1] === 'n' && unary) continue;
    out += letter;
  }
  return out;
}
