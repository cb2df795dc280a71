import type { WindowRule } from './sliding-window.js';

/**
 * Returns the rule for one API key: the server's per-key rule, with the key's own limit when
 * the key has one that is lower. A key may only lower the server's limit, so whoever can create
 * keys cannot lift a limit the operator set. When the server's rule is off (limit 0), the key's
 * limit applies alone.
 */
export function ruleForKey(rule: WindowRule, keyLimit: number | null | undefined): WindowRule {
  if (!keyLimit) return rule;
  if (rule.limit !== 0 && rule.limit <= keyLimit) return rule;
  return { ...rule, limit: keyLimit };
}
