import { htmlEntityDecode } from './transformations-text.js';

/**
 * Bounded extractors for XML and multipart bodies. They are deliberately lenient:
 * they pull out the values an application would read, without validating structure.
 */

/** Maximum values taken from one body. */
export const MAX_BODY_PARTS = 512;

/** One value from a structured body; `name` is the form field name for multipart parts. */
export interface BodyValue {
  name: string;
  value: string;
  /** File name from a multipart `Content-Disposition` header, when present. */
  filename?: string;
}

/**
 * Returns the attribute values and text nodes of an XML document. Element and attribute
 * names are not returned, because applications treat them as schema, not as data.
 */
export function xmlValues(body: string): BodyValue[] {
  const values: BodyValue[] = [];
  let i = 0;
  while (i < body.length && values.length < MAX_BODY_PARTS) {
    const open = body.indexOf('<', i);
    const text = (open < 0 ? body.slice(i) : body.slice(i, open)).trim();
    if (text !== '') values.push({ name: 'xml', value: htmlEntityDecode(text) });
    if (open < 0) break;
    const close = body.indexOf('>', open);
    const end = close < 0 ? body.length : close;
    const tag = body.slice(open + 1, end);
    let quoteStart = -1;
    let quote = '';
    for (let j = 0; j < tag.length; j++) {
      const char = tag[j];
      if (quoteStart < 0 && (char === '"' || char === "'") && tag[j - 1] === '=') {
        quoteStart = j + 1;
        quote = char;
      } else if (quoteStart >= 0 && char === quote) {
        values.push({ name: 'xml', value: htmlEntityDecode(tag.slice(quoteStart, j)) });
        quoteStart = -1;
      }
    }
    i = end + 1;
  }
  return values;
}

function isKeyChar(code: number): boolean {
  return (code >= 97 && code <= 122) || code === 42;
}

/** Splits a part into its header block and content at the first blank line. */
function splitPart(part: string): { head: string; content: string } {
  const normalized = part.split('\r\n').join('\n');
  const blank = normalized.indexOf('\n\n');
  if (blank < 0) return { head: normalized, content: '' };
  let content = normalized.slice(blank + 2);
  if (content.endsWith('\n')) content = content.slice(0, -1);
  return { head: normalized.slice(0, blank), content };
}

function dispositionParameter(header: string, parameter: string): string | undefined {
  const lower = header.toLowerCase();
  const key = `${parameter}=`;
  let at = lower.indexOf(key);
  // Skip a longer key that ends in the same letters, such as `filename=` when looking for `name=`.
  while (at > 0 && isKeyChar(lower.charCodeAt(at - 1))) {
    at = lower.indexOf(key, at + 1);
  }
  if (at < 0) return undefined;
  const start = at + key.length;
  if (header[start] === '"') {
    const close = header.indexOf('"', start + 1);
    return header.slice(start + 1, close < 0 ? header.length : close);
  }
  const end = header.indexOf(';', start);
  return header.slice(start, end < 0 ? header.length : end).trim();
}

/** Returns the boundary parameter of a `multipart/form-data` content type, if any. */
export function multipartBoundary(contentType: string): string | undefined {
  if (!contentType.toLowerCase().startsWith('multipart/')) return undefined;
  const boundary = dispositionParameter(contentType, 'boundary');
  return boundary === undefined || boundary === '' ? undefined : boundary;
}

/** Splits a multipart body into named parts; part headers other than the disposition are ignored. */
export function multipartValues(body: string, boundary: string): BodyValue[] {
  const values: BodyValue[] = [];
  const parts = body.split(`--${boundary}`);
  for (const part of parts.slice(1, MAX_BODY_PARTS + 1)) {
    if (part.startsWith('--')) break;
    const { head, content } = splitPart(
      part.startsWith('\r\n') ? part.slice(2) : part.startsWith('\n') ? part.slice(1) : part,
    );
    const disposition =
      head.split('\n').find((line) => line.toLowerCase().startsWith('content-disposition')) ?? '';
    const name = dispositionParameter(disposition, 'name') ?? '';
    const filename = dispositionParameter(disposition, 'filename');
    values.push(
      filename === undefined ? { name, value: content } : { name, value: content, filename },
    );
  }
  return values;
}
