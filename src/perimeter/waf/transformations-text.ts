/**
 * Text-level transformations for markup, SQL and shell syntax. Like the URL and
 * Unicode transformations, each runs in linear time and never throws.
 */

const NAMED_ENTITIES: Record<string, string> = {
  amp: '&',
  lt: '<',
  gt: '>',
  quot: '"',
  apos: "'",
  nbsp: '\u00a0',
  colon: ':',
  semi: ';',
  tab: '\t',
  newline: '\n',
  lpar: '(',
  rpar: ')',
  sol: '/',
  bsol: '\\',
  period: '.',
  comma: ',',
  equals: '=',
  grave: '`',
  excl: '!',
  num: '#',
  lbrace: '{',
  rbrace: '}',
  lsqb: '[',
  rsqb: ']',
  plus: '+',
};

/** Maximum entity body length read after `&`, so one stray `&` cannot make decoding quadratic. */
const MAX_ENTITY_LENGTH = 12;

function isAlphanumeric(code: number): boolean {
  return (code >= 48 && code <= 57) || ((code | 0x20) >= 97 && (code | 0x20) <= 122);
}

function isDigit(code: number): boolean {
  return code >= 48 && code <= 57;
}

function isHexDigit(code: number): boolean {
  return isDigit(code) || ((code | 0x20) >= 97 && (code | 0x20) <= 102);
}

/** Decodes a numeric reference body such as `#x3c` or `#60`; returns `undefined` when invalid. */
function decodeNumeric(body: string): string | undefined {
  const hex = body[1] === 'x' || body[1] === 'X';
  const digits = body.slice(hex ? 2 : 1);
  if (digits === '') return undefined;
  const value = Number.parseInt(digits, hex ? 16 : 10);
  if (!Number.isFinite(value) || value > 0x10ffff) return undefined;
  return String.fromCodePoint(value);
}

/** Decodes HTML character references: numeric forms with or without `;`, and common names. */
export function htmlEntityDecode(input: string): string {
  if (!input.includes('&')) return input;
  let out = '';
  for (let i = 0; i < input.length; i++) {
    const char = input[i] ?? '';
    if (char !== '&') {
      out += char;
      continue;
    }
    let end = i + 1;
    const numeric = input[end] === '#';
    if (numeric) end++;
    const hex = numeric && (input[end] === 'x' || input[end] === 'X');
    if (hex) end++;
    let accepts = isAlphanumeric;
    if (numeric) accepts = hex ? isHexDigit : isDigit;
    while (end < input.length && end - i <= MAX_ENTITY_LENGTH && accepts(input.charCodeAt(end))) {
      end++;
    }
    const body = input.slice(i + 1, end);
    const decoded = numeric ? decodeNumeric(body) : NAMED_ENTITIES[body.toLowerCase()];
    if (decoded === undefined || (!numeric && input[end] !== ';')) {
      out += char;
      continue;
    }
    out += decoded;
    i = input[end] === ';' ? end : end - 1;
  }
  return out;
}

/**
 * Replaces SQL comments with one space: `/* ... *\/`, `-- ` and `#` to end of line.
 * MySQL executable comments `/*! ... *\/` keep their content, because MySQL runs it.
 */
export function removeComments(input: string): string {
  if (!input.includes('/*') && !input.includes('--') && !input.includes('#')) return input;
  let out = '';
  let i = 0;
  while (i < input.length) {
    const char = input[i];
    const next = input[i + 1];
    if (char === '/' && next === '*') {
      const close = input.indexOf('*/', i + 2);
      const end = close < 0 ? input.length : close;
      if (input[i + 2] === '!') {
        let start = i + 3;
        while (start < end && input.charCodeAt(start) >= 48 && input.charCodeAt(start) <= 57)
          start++;
        out += ' ' + input.slice(start, end) + ' ';
      } else {
        out += ' ';
      }
      i = close < 0 ? input.length : close + 2;
    } else if ((char === '-' && next === '-') || char === '#') {
      const newline = input.indexOf('\n', i);
      out += ' ';
      i = newline < 0 ? input.length : newline;
    } else {
      out += char;
      i++;
    }
  }
  return out;
}

function hasShellEscapes(input: string): boolean {
  for (let i = 0; i < input.length; i++) {
    const char = input[i];
    if (char === '\\' || char === "'" || char === '"' || char === '^' || char === '$') return true;
  }
  return false;
}

/**
 * Removes shell quoting and escapes that split command words, such as `c'a't`, `c\at`,
 * `c^md` and `""`, and turns `$IFS` / `${IFS}` into a space, so command rules see `cat`.
 */
export function shellUnescape(input: string): string {
  if (!hasShellEscapes(input)) return input;
  let out = '';
  for (let i = 0; i < input.length; i++) {
    const char = input[i] ?? '';
    if (char === '\\' || char === "'" || char === '"' || char === '^') continue;
    if (char === '$') {
      const rest = input.slice(i, i + 6).toLowerCase();
      if (rest.startsWith('${ifs}')) {
        out += ' ';
        i += 5;
        continue;
      }
      if (rest.startsWith('$ifs')) {
        out += ' ';
        i += 3;
        continue;
      }
      if (input[i + 1] === '@') {
        i += 1;
        continue;
      }
    }
    out += char;
  }
  return out;
}
