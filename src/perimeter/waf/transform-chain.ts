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

/** A transformation chain with a numeric id for every prefix, so results can be cached by index. */
export interface CompiledChain {
  readonly steps: ReadonlyArray<{ readonly id: number; readonly apply: (input: string) => string }>;
}

const prefixIds = new Map<string, number>();

/** Compiles a chain once; equal prefixes of different chains share ids and so share cached results. */
export function compileChain(chain: readonly TransformName[]): CompiledChain {
  let key = '';
  const steps = chain.map((name) => {
    key += `${name}|`;
    let id = prefixIds.get(key);
    if (id === undefined) {
      id = prefixIds.size;
      prefixIds.set(key, id);
    }
    return { id, apply: TRANSFORMS[name] };
  });
  return { steps };
}

/**
 * Applies a compiled chain to `value`, storing every intermediate result in `cache` at the
 * prefix id, so rules that share a prefix transform each value only once.
 */
export function applyChain(
  value: string,
  chain: CompiledChain,
  cache: Array<string | undefined>,
): string {
  let current = value;
  for (const step of chain.steps) {
    const cached = cache[step.id];
    if (cached !== undefined) {
      current = cached;
      continue;
    }
    current = step.apply(current);
    cache[step.id] = current;
  }
  return current;
}

/** Applies a chain without caching, for callers outside the engine. */
export function applyTransforms(value: string, chain: readonly TransformName[]): string {
  return applyChain(value, compileChain(chain), []);
}
