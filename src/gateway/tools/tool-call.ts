import { createHash } from 'node:crypto';

import canonicalizeExport from 'canonicalize';

// The package is CommonJS, but its types describe an ES default export, so NodeNext types the
// default import as the module namespace.
const canonicalize = canonicalizeExport as unknown as (input: unknown) => string | undefined;

/** A tool call the model made in a response: the client is to run `name` with the arguments. */
export interface ToolCall {
  /** The provider's id of the call (`toolu_...`, `call_...`). */
  id: string;
  name: string;
  /** SHA-256 of the arguments in canonical JSON, so an approval covers these arguments only. */
  argumentsDigest: string;
}

/**
 * A tool result a client sends back, with the call it replies to as the conversation history
 * in the same request shows it. `call` is null when the history lacks that call.
 */
export interface ToolResult {
  toolCallId: string;
  call: ToolCall | null;
}

/** Maximum length of a provider tool-call id or tool name that the gateway records. */
const MAX_ID_CHARS = 200;

/** SHA-256 over the canonical JSON of the arguments (RFC 8785), hex. */
export function argumentsDigest(value: unknown): string {
  const text = canonicalize(value ?? null) ?? 'null';
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

/**
 * Digest of arguments that arrive as JSON text (OpenAI): the parsed value when it is JSON, so
 * whitespace differences do not matter, and the raw text otherwise.
 */
export function textArgumentsDigest(text: string): string {
  try {
    return argumentsDigest(JSON.parse(text) as unknown);
  } catch {
    return argumentsDigest({ unparsed: text });
  }
}

// Provider call ids (`toolu_01...`, `call_...`) and tool names use these characters. A call
// whose id or name uses others is never recorded, so its result is always rejected.
const ID_PATTERN = /^[A-Za-z0-9_.:/-]+$/;

function isIdentifier(value: unknown): value is string {
  return typeof value === 'string' && value.length <= MAX_ID_CHARS && ID_PATTERN.test(value);
}

/** Builds a tool call from untrusted JSON fields, or null when its id or name is invalid. */
export function toolCallOf(id: unknown, name: unknown, digest: string): ToolCall | null {
  if (!isIdentifier(id) || !isIdentifier(name)) return null;
  return { id, name, argumentsDigest: digest };
}

/**
 * Returns the call id a tool result names. An id that is not a string is returned as its JSON
 * text, which no recorded call has, so the result is rejected rather than forwarded unchecked.
 */
export function resultIdOf(id: unknown): string {
  return typeof id === 'string' ? id : String(JSON.stringify(id)).slice(0, 200);
}
