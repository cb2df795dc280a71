import { SEVERITY, re2CaseSensitive, type WafRule } from '../rule.js';
import { ARGS_AND_HEADERS } from './common.js';

/** Java class and gadget names that deserialization payloads carry, here looked for in base64. */
const GADGET_WORDS = [
  'runtime',
  'processbuilder',
  'clonetransformer',
  'forclosure',
  'instantiatefactory',
  'instantiatetransformer',
  'invokertransformer',
  'prototypeclonefactory',
  'prototypeserializationfactory',
  'whileclosure',
  'getruntime',
  'java.lang',
];

/**
 * Returns the base64 text that encodes `word` at each of the three byte alignments,
 * without the leading and trailing characters that depend on neighbouring bytes.
 */
export function base64Fragments(word: string): string[] {
  const fragments: string[] = [];
  for (let offset = 0; offset < 3; offset++) {
    const encoded = Buffer.concat([Buffer.alloc(offset), Buffer.from(word)]).toString('base64');
    const start = [0, 2, 3][offset] ?? 0;
    const end = Math.floor(((offset + word.length) * 8) / 6);
    fragments.push(encoded.slice(start, end));
  }
  return fragments;
}

const fragments = GADGET_WORDS.flatMap(base64Fragments);

/** Java rules for payloads hidden in base64. */
export const JAVA_BASE64_RULES: WafRule[] = [
  {
    id: 944300,
    family: 'java',
    paranoia: 2,
    severity: SEVERITY.critical,
    description: 'Base64 text that encodes a Java process or deserialization gadget class name',
    scope: 'value',
    targets: [...ARGS_AND_HEADERS, 'body'],
    transforms: ['urlDecode'],
    test: re2CaseSensitive(fragments.join('|')),
  },
];
