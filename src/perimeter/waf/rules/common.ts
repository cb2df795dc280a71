import { re2, type TargetKind, type ValueRule } from '../rule.js';
import type { TransformName } from '../transformations.js';

/** Request arguments: query and form or JSON body names and values, and cookies. */
export const ARGS: readonly TargetKind[] = [
  'query',
  'query-name',
  'body',
  'body-name',
  'cookie',
  'cookie-name',
];

/** Arguments plus every inspected header. */
export const ARGS_AND_HEADERS: readonly TargetKind[] = [...ARGS, 'header'];

/** Every inspected value, including the path. */
export const EVERYWHERE: readonly TargetKind[] = [...ARGS_AND_HEADERS, 'path'];

/** Decoding chain shared by most rules. */
export const DECODE: readonly TransformName[] = [
  'urlDecode',
  'htmlEntityDecode',
  'unicode',
  'lowercase',
];

/** Decoding chain for SQL patterns: comments become spaces and blanks collapse. */
export const SQL_DECODE: readonly TransformName[] = [
  ...DECODE,
  'removeComments',
  'compressWhitespace',
];

/** Decoding chain for shell patterns: quotes and escapes that split command words are removed. */
export const SHELL_DECODE: readonly TransformName[] = [
  'urlDecode',
  'htmlEntityDecode',
  'unicode',
  'lowercase',
  'shellUnescape',
  'compressWhitespace',
];

/** Decoding chain for file paths: slashes are normalized and `..` kept. */
export const PATH_DECODE: readonly TransformName[] = [
  'urlDecode',
  'htmlEntityDecode',
  'unicode',
  'lowercase',
  'normalizePath',
];

/** Fields of a pattern rule; `pattern` is an RE2 pattern matched case-insensitively. */
export type PatternRuleSpec = Omit<ValueRule, 'scope' | 'test'> & { pattern: string };

/** Builds a value rule from an RE2 pattern. */
export function patternRule(spec: PatternRuleSpec): ValueRule {
  const { pattern, ...rest } = spec;
  return { ...rest, scope: 'value', test: re2(pattern) };
}
