/**
 * Finds the parts of a policy change that loosen it. Known settings are judged by meaning:
 * `allowedModels` loosens when it gains a model, `mcpAutoApprove` when it turns on or its
 * list of tools gains one, and a number loosens when it rises or is removed. Any other change
 * of a setting counts as loosening, so a setting this code does not know yet needs a second
 * admin rather than slipping through.
 */
export function looseningChanges(
  before: Readonly<Record<string, unknown>>,
  after: Readonly<Record<string, unknown>>,
): string[] {
  const found: string[] = [];
  for (const key of new Set([...Object.keys(before), ...Object.keys(after)])) {
    const old = before[key];
    const next = after[key];
    if (JSON.stringify(old) === JSON.stringify(next)) continue;
    const reason = judge(key, old, next);
    if (reason) found.push(reason);
  }
  return found;
}

function judge(key: string, old: unknown, next: unknown): string | null {
  if (key === 'allowedModels') return judgeModels(old, next);
  if (key === 'mcpAutoApprove') return judgeAutoApprove(old, next);
  if (typeof old === 'number' && typeof next === 'number') {
    return next > old ? `${key} rises from ${old} to ${next}` : null;
  }
  if (typeof old === 'number' && next === undefined) return `${key} limit is removed`;
  return `${key} changes`;
}

const stringsOf = (value: unknown): string[] =>
  Array.isArray(value) ? value.filter((item): item is string => typeof item === 'string') : [];

function judgeModels(old: unknown, next: unknown): string | null {
  const known = new Set(stringsOf(old));
  const added = stringsOf(next).filter((model) => !known.has(model));
  return added.length > 0 ? `allowedModels gains ${added.join(', ')}` : null;
}

// `true` approves every tool call, a list approves those tools, and `false` or no value none.
function judgeAutoApprove(old: unknown, next: unknown): string | null {
  if (next === true) return old === true ? null : 'mcpAutoApprove turns on for every tool';
  if (!Array.isArray(next)) return null;
  if (old === true) return null;
  const known = new Set(stringsOf(old));
  const added = stringsOf(next).filter((tool) => !known.has(tool));
  return added.length > 0 ? `mcpAutoApprove gains ${added.join(', ')}` : null;
}

/** Loosening parts of an organization change: turning four-eyes or required MFA off. */
export function organizationLoosening(
  before: { fourEyes: boolean; requireMfa: boolean },
  change: { fourEyes?: boolean; requireMfa?: boolean },
): string[] {
  const found: string[] = [];
  if (before.fourEyes && change.fourEyes === false) found.push('fourEyes turns off');
  if (before.requireMfa && change.requireMfa === false) found.push('requireMfa turns off');
  return found;
}
