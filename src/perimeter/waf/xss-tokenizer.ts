/**
 * Lenient HTML tag lexer for XSS detection. It reads tags the way browsers do for
 * broken markup: `/` separates attributes, a tag may end without `>`, and attribute
 * values may be quoted with `"`, `'` or a backtick (old Internet Explorer).
 */

/** One attribute of a tag; `value` is undefined when the attribute has no `=`. */
export interface HtmlAttribute {
  name: string;
  value: string | undefined;
}

/** One start tag found in the input. */
export interface HtmlTag {
  name: string;
  attributes: HtmlAttribute[];
}

/** Maximum characters read for one tag, and maximum tags read per value, which bound the work. */
export const MAX_TAG_LENGTH = 4096;
export const MAX_TAGS = 256;

function isLetter(code: number): boolean {
  return (code | 0x20) >= 97 && (code | 0x20) <= 122;
}

function isSpace(char: string | undefined): boolean {
  return (
    char === ' ' ||
    char === '\t' ||
    char === '\n' ||
    char === '\r' ||
    char === '\f' ||
    char === '\v'
  );
}

/** Index of `char` in `input` between `from` and `limit`, or -1; never reads past `limit`. */
function indexWithin(input: string, char: string, from: number, limit: number): number {
  for (let i = from; i < limit; i++) if (input[i] === char) return i;
  return -1;
}

function readAttributes(input: string, start: number, limit: number): HtmlAttribute[] {
  const attributes: HtmlAttribute[] = [];
  let i = start;
  while (i < limit) {
    while (i < limit && (isSpace(input[i]) || input[i] === '/')) i++;
    if (i >= limit || input[i] === '>') break;
    const nameStart = i;
    while (
      i < limit &&
      !isSpace(input[i]) &&
      input[i] !== '=' &&
      input[i] !== '>' &&
      input[i] !== '/'
    )
      i++;
    if (i === nameStart) i++;
    const name = input.slice(nameStart, i);
    while (i < limit && isSpace(input[i])) i++;
    if (input[i] !== '=') {
      attributes.push({ name, value: undefined });
      continue;
    }
    i++;
    while (i < limit && isSpace(input[i])) i++;
    const quote = input[i];
    let value: string;
    if (quote === '"' || quote === "'" || quote === '`') {
      const close = indexWithin(input, quote, i + 1, limit);
      const end = close < 0 ? limit : close;
      value = input.slice(i + 1, end);
      i = end + 1;
    } else {
      const valueStart = i;
      while (i < limit && !isSpace(input[i]) && input[i] !== '>') i++;
      value = input.slice(valueStart, i);
    }
    attributes.push({ name, value });
  }
  return attributes;
}

/**
 * Returns the start tags in `input` (expected lower-cased). Every `<` followed by a
 * letter starts a tag, even inside another tag, so `<scr<script>ipt>` yields `script`.
 */
export function readTags(input: string): HtmlTag[] {
  const tags: HtmlTag[] = [];
  let from = 0;
  while (tags.length < MAX_TAGS) {
    const open = input.indexOf('<', from);
    if (open < 0) break;
    from = open + 1;
    if (!isLetter(input.charCodeAt(open + 1))) continue;
    let i = open + 1;
    while (
      i < input.length &&
      !isSpace(input[i]) &&
      input[i] !== '/' &&
      input[i] !== '>' &&
      input[i] !== '<'
    )
      i++;
    const name = input.slice(open + 1, i);
    const bound = Math.min(input.length, i + MAX_TAG_LENGTH);
    const close = indexWithin(input, '>', i, bound);
    const limit = close < 0 ? bound : close;
    tags.push({ name, attributes: readAttributes(input, i, limit) });
  }
  return tags;
}

/** Reads the attributes of an injected fragment as if it continued an open tag's attribute value. */
export function readAttributeContext(input: string, quote: '"' | "'" | ''): HtmlAttribute[] {
  const fragment = `a=${quote}${input}`;
  const limit = Math.min(fragment.length, MAX_TAG_LENGTH);
  return readAttributes(fragment, 0, limit).slice(1);
}
