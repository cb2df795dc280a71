import {
  compressWhitespace,
  lowercase,
  normalizePath,
  normalizeUnicode,
  urlDecode,
  type TransformName,
} from './transformations.js';
import { htmlEntityDecode, removeComments, shellUnescape } from './transformations-text.js';

const TRANSFORMS: Record<TransformName, (input: string) => string> = {
  urlDecode,
  htmlEntityDecode,
  unicode: normalizeUnicode,
  normalizePath,
  lowercase,
  removeComments,
  compressWhitespace,
  shellUnescape,
};

/**
 * Applies `chain` to `value`, storing every intermediate result in `cache` under the
 * chain prefix, so rules that share a prefix transform each value only once.
 */
export function applyTransforms(
  value: string,
  chain: readonly TransformName[],
  cache: Map<string, string>,
): string {
  let key = '';
  let current = value;
  for (const name of chain) {
    key += name + '|';
    const cached = cache.get(key);
    if (cached !== undefined) {
      current = cached;
      continue;
    }
    current = TRANSFORMS[name](current);
    cache.set(key, current);
  }
  return current;
}
