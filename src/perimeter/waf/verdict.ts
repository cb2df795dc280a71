import type { WafMatch, WafVerdict } from './types.js';

/**
 * Builds the verdict for a set of matches. Each rule adds its severity to the score
 * once, however many locations it matched, and the request is blocked when the score
 * reaches `threshold`.
 */
export function buildVerdict(
  matches: WafMatch[],
  threshold: number,
  truncated: string[],
): WafVerdict {
  const scored = new Set<number>();
  let score = 0;
  for (const match of matches) {
    if (scored.has(match.ruleId)) continue;
    scored.add(match.ruleId);
    score += match.severity;
  }
  return { action: score >= threshold ? 'block' : 'allow', score, threshold, matches, truncated };
}

/** Rule id reported when inspection itself failed; the request is then blocked. */
export const ENGINE_FAILURE_RULE_ID = 900000;

/** Builds the fail-closed verdict returned when inspection raised an error. */
export function failureVerdict(threshold: number): WafVerdict {
  const match: WafMatch = {
    ruleId: ENGINE_FAILURE_RULE_ID,
    family: 'protocol',
    location: 'engine',
    severity: threshold,
  };
  return { action: 'block', score: threshold, threshold, matches: [match], truncated: [] };
}
