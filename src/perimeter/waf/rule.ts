import { RE2JS } from 're2js';

import type { TransformName } from './transformations.js';
import type { ParanoiaLevel, WafFamily, WafRequest } from './types.js';

/** Kind of inspected value; rules list the kinds they apply to. */
export type TargetKind =
  | 'path'
  | 'query'
  | 'query-name'
  | 'header'
  | 'cookie'
  | 'cookie-name'
  | 'body'
  | 'body-name'
  | 'part-name'
  | 'filename';

/** One value taken from the request for inspection. */
export interface Target {
  kind: TargetKind;
  /** Header, argument or cookie name; empty for the path and a raw body. */
  name: string;
  /** Location reported in matches, for example `query:id`. */
  location: string;
  value: string;
}

/** Severity points added to the anomaly score. */
export const SEVERITY = { critical: 5, error: 4, warning: 3, notice: 2 } as const;

interface RuleBase {
  id: number;
  family: WafFamily;
  paranoia: ParanoiaLevel;
  severity: number;
  description: string;
}

/** Rule that tests each inspected value of the listed kinds. */
export interface ValueRule extends RuleBase {
  scope: 'value';
  targets: readonly TargetKind[];
  /** Header names the rule is limited to, lower-cased; all inspected headers when absent. */
  headers?: readonly string[];
  /** Header names the rule skips, lower-cased. */
  excludedHeaders?: readonly string[];
  /** Lower-case substrings of which one must occur in the argument or header name. */
  names?: readonly string[];
  transforms: readonly TransformName[];
  /**
   * Lower-case substrings of which at least one must occur in the transformed value before
   * `test` runs. They are a fast pre-filter and must be implied by every match of `test`.
   */
  needles?: readonly string[];
  test: (value: string) => boolean;
}

/** Engine settings that request rules read. */
export interface RuleSettings {
  /** Upper-case HTTP methods the application accepts. */
  allowedMethods: ReadonlySet<string>;
}

/** Rule that looks at the request as a whole and returns the location of a violation. */
export interface RequestRule extends RuleBase {
  scope: 'request';
  check: (
    request: WafRequest,
    targets: readonly Target[],
    settings: RuleSettings,
  ) => string | undefined;
}

/** Rule of either scope. */
export type WafRule = ValueRule | RequestRule;

/**
 * Compiles a case-insensitive RE2 pattern, which matches in time linear in the input
 * length whatever the pattern, and returns its test function.
 */
export function re2(pattern: string): (value: string) => boolean {
  const compiled = RE2JS.compile(pattern, RE2JS.CASE_INSENSITIVE | RE2JS.DOTALL);
  return (value) => compiled.test(value);
}

/** Compiles a case-sensitive RE2 pattern, for token fingerprints where case carries meaning. */
export function re2CaseSensitive(pattern: string): (value: string) => boolean {
  const compiled = RE2JS.compile(pattern);
  return (value) => compiled.test(value);
}

/** Joins words into an RE2 alternation, escaping regex metacharacters. */
export function alternation(words: readonly string[]): string {
  return words.map((word) => RE2JS.quote(word)).join('|');
}
