import type { WafRule } from './rule.js';
import type { WafExclusion } from './types.js';

function locationMatches(pattern: string, location: string): boolean {
  return pattern.endsWith('*') ? location.startsWith(pattern.slice(0, -1)) : pattern === location;
}

function ruleMatches(exclusion: WafExclusion, rule: WafRule): boolean {
  if (exclusion.ruleId !== undefined && exclusion.ruleId !== rule.id) return false;
  return exclusion.family === undefined || exclusion.family === rule.family;
}

/** Returns true when an exclusion without a location disables `rule` on the whole route. */
export function isRuleDisabled(
  exclusions: readonly WafExclusion[],
  routeId: string,
  rule: WafRule,
): boolean {
  return exclusions.some(
    (exclusion) =>
      exclusion.location === undefined &&
      (exclusion.routeId === undefined || exclusion.routeId === routeId) &&
      ruleMatches(exclusion, rule),
  );
}

/** Returns true when an exclusion disables `rule` at `location` on the route. */
export function isExcluded(
  exclusions: readonly WafExclusion[],
  routeId: string,
  rule: WafRule,
  location: string,
): boolean {
  return exclusions.some(
    (exclusion) =>
      (exclusion.routeId === undefined || exclusion.routeId === routeId) &&
      (exclusion.location === undefined || locationMatches(exclusion.location, location)) &&
      ruleMatches(exclusion, rule),
  );
}
