/**
 * Moving model names and the dated snapshot each one stands for. Providers repoint an alias
 * such as `gpt-4o` or `claude-sonnet-4-5` to newer snapshots over time, so the gateway
 * resolves every name to its snapshot before it checks a project's allow-list, and forwards
 * the snapshot. A project that allowed one snapshot is never moved to another behind its back.
 */
const MODEL_ALIASES: ReadonlyMap<string, string> = new Map([
  // Anthropic
  ['claude-opus-4-1', 'claude-opus-4-1-20250805'],
  ['claude-opus-4-0', 'claude-opus-4-20250514'],
  ['claude-sonnet-4-5', 'claude-sonnet-4-5-20250929'],
  ['claude-sonnet-4-0', 'claude-sonnet-4-20250514'],
  ['claude-haiku-4-5', 'claude-haiku-4-5-20251001'],
  ['claude-3-7-sonnet-latest', 'claude-3-7-sonnet-20250219'],
  ['claude-3-5-sonnet-latest', 'claude-3-5-sonnet-20241022'],
  ['claude-3-5-haiku-latest', 'claude-3-5-haiku-20241022'],
  ['claude-3-opus-latest', 'claude-3-opus-20240229'],
  // OpenAI
  ['gpt-4o', 'gpt-4o-2024-08-06'],
  ['gpt-4o-mini', 'gpt-4o-mini-2024-07-18'],
  ['gpt-4.1', 'gpt-4.1-2025-04-14'],
  ['gpt-4.1-mini', 'gpt-4.1-mini-2025-04-14'],
  ['gpt-4.1-nano', 'gpt-4.1-nano-2025-04-14'],
  ['gpt-4-turbo', 'gpt-4-turbo-2024-04-09'],
  ['o1', 'o1-2024-12-17'],
  ['o3', 'o3-2025-04-16'],
  ['o3-mini', 'o3-mini-2025-01-31'],
  ['o4-mini', 'o4-mini-2025-04-16'],
]);

/** Returns the snapshot of a model name: its target for an alias, else the name itself. */
export function resolveModelAlias(model: string): string {
  return MODEL_ALIASES.get(model) ?? model;
}

/** Lists every alias that resolves to `snapshot`. */
export function aliasesOf(snapshot: string): string[] {
  const aliases: string[] = [];
  for (const [alias, target] of MODEL_ALIASES) if (target === snapshot) aliases.push(alias);
  return aliases;
}
