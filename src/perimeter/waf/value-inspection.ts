import type { Target, ValueRule, WafRule } from './rule.js';
import { applyChain, compileChain, type CompiledChain } from './transform-chain.js';
import type { TransformName } from './transformations.js';
import type { WafMatch } from './types.js';

/** Distinct transformation chains of a rule set, so each is applied once per value. */
export class ChainTable {
  readonly chains: CompiledChain[] = [];
  private readonly indexByKey = new Map<string, number>();

  /** Returns the index of `transforms`, adding the chain on first use. */
  indexOf(transforms: readonly TransformName[]): number {
    const key = transforms.join('|');
    let index = this.indexByKey.get(key);
    if (index === undefined) {
      index = this.chains.length;
      this.chains.push(compileChain(transforms));
      this.indexByKey.set(key, index);
    }
    return index;
  }
}

/** Value rule with the table indexes of its chain and of its needle chain (the chain plus `lowercase`). */
export interface PreparedRule {
  rule: ValueRule;
  chainIndex: number;
  needleChainIndex: number;
}

/** Prepares a rule against `table`. */
export function prepareRule(rule: ValueRule, table: ChainTable): PreparedRule {
  const needleTransforms: readonly TransformName[] =
    rule.transforms.at(-1) === 'lowercase' ? rule.transforms : [...rule.transforms, 'lowercase'];
  return {
    rule,
    chainIndex: table.indexOf(rule.transforms),
    needleChainIndex: table.indexOf(needleTransforms),
  };
}

/** Reports whether a header rule applies to the header `name`. */
export function appliesToHeader(rule: ValueRule, name: string): boolean {
  if (rule.headers !== undefined && !rule.headers.includes(name)) return false;
  return rule.excludedHeaders === undefined || !rule.excludedHeaders.includes(name);
}

function hasNeedle(value: string, needles: readonly string[]): boolean {
  for (const needle of needles) if (value.includes(needle)) return true;
  return false;
}

/**
 * Runs `rules` on one target and appends their matches. Each chain of the table is
 * applied at most once to the value, and only when a rule needs it.
 */
export function inspectTarget(
  target: Target,
  rules: readonly PreparedRule[],
  table: ChainTable,
  matches: WafMatch[],
  excluded: (rule: WafRule, location: string) => boolean,
): void {
  const prefixCache: Array<string | undefined> = [];
  const transformed: Array<string | undefined> = new Array<string | undefined>(table.chains.length);
  const valueFor = (index: number): string => {
    let value = transformed[index];
    if (value === undefined) {
      const chain = table.chains[index];
      value = chain === undefined ? target.value : applyChain(target.value, chain, prefixCache);
      transformed[index] = value;
    }
    return value;
  };
  let lowerName: string | undefined;
  for (const { rule, chainIndex, needleChainIndex } of rules) {
    if (rule.names !== undefined) {
      lowerName ??= target.name.toLowerCase();
      if (!hasNeedle(lowerName, rule.names)) continue;
    }
    if (rule.needles !== undefined && !hasNeedle(valueFor(needleChainIndex), rule.needles))
      continue;
    if (!rule.test(valueFor(chainIndex)) || excluded(rule, target.location)) continue;
    matches.push({
      ruleId: rule.id,
      family: rule.family,
      location: target.location,
      severity: rule.severity,
    });
  }
}
