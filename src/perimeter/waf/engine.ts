import { isExcluded, isRuleDisabled } from './exclusions.js';
import type { RequestRule, RuleSettings, Target, TargetKind, ValueRule, WafRule } from './rule.js';
import { DEFAULT_RULES } from './rules/index.js';
import { collectTargets } from './targets.js';
import { applyTransforms } from './transform-chain.js';
import type { TransformName } from './transformations.js';
import type {
  ParanoiaLevel,
  WafConfig,
  WafExclusion,
  WafMatch,
  WafRequest,
  WafVerdict,
} from './types.js';
import { buildVerdict, failureVerdict } from './verdict.js';

/** Default maximum characters inspected per value (64 KiB of UTF-16 code units). */
export const DEFAULT_MAX_VALUE_LENGTH = 65_536;
/** Default maximum number of values inspected per request. */
export const DEFAULT_MAX_VALUES = 1024;
/** Methods accepted when the configuration names none: those the gateway and admin API use. */
export const DEFAULT_ALLOWED_METHODS: readonly string[] = [
  'GET',
  'HEAD',
  'POST',
  'PUT',
  'PATCH',
  'DELETE',
  'OPTIONS',
];
/** Default anomaly threshold: one critical match blocks. */
export const DEFAULT_THRESHOLD = 5;

/** Compiled engine; `inspect` is safe to call concurrently because it keeps no request state. */
export interface WafEngine {
  /** Inspects one request. Never throws: an internal error yields a blocking verdict. */
  inspect(request: WafRequest): WafVerdict;
  readonly paranoiaLevel: ParanoiaLevel;
  readonly threshold: number;
  /** Rules active at the configured paranoia level. */
  readonly rules: readonly WafRule[];
}

interface RuleSet {
  byKind: Map<TargetKind, ValueRule[]>;
  requestRules: RequestRule[];
}

function indexRules(rules: readonly WafRule[]): RuleSet {
  const byKind = new Map<TargetKind, ValueRule[]>();
  const requestRules: RequestRule[] = [];
  for (const rule of rules) {
    if (rule.scope === 'request') {
      requestRules.push(rule);
      continue;
    }
    for (const kind of rule.targets) {
      const list = byKind.get(kind) ?? [];
      list.push(rule);
      byKind.set(kind, list);
    }
  }
  return { byKind, requestRules };
}

function hasNeedle(value: string, needles: readonly string[] | undefined): boolean {
  if (needles === undefined) return true;
  for (const needle of needles) if (value.includes(needle)) return true;
  return false;
}

function appliesToHeader(rule: ValueRule, name: string): boolean {
  if (rule.headers !== undefined && !rule.headers.includes(name)) return false;
  return rule.excludedHeaders === undefined || !rule.excludedHeaders.includes(name);
}

const lowerChains = new WeakMap<ValueRule, readonly TransformName[]>();

/** Returns the rule's chain with `lowercase` appended, for matching needles. */
function lowerChain(rule: ValueRule): readonly TransformName[] {
  let chain = lowerChains.get(rule);
  if (chain === undefined) {
    chain =
      rule.transforms.at(-1) === 'lowercase' ? rule.transforms : [...rule.transforms, 'lowercase'];
    lowerChains.set(rule, chain);
  }
  return chain;
}

function inspectTarget(
  target: Target,
  rules: readonly ValueRule[],
  matches: WafMatch[],
  excluded: (rule: WafRule, location: string) => boolean,
): void {
  const cache = new Map<string, string>();
  for (const rule of rules) {
    if (target.kind === 'header' && !appliesToHeader(rule, target.name)) continue;
    if (rule.names !== undefined && !hasNeedle(target.name.toLowerCase(), rule.names)) continue;
    if (rule.needles !== undefined) {
      const haystack = applyTransforms(target.value, lowerChain(rule), cache);
      if (!hasNeedle(haystack, rule.needles)) continue;
    }
    const value = applyTransforms(target.value, rule.transforms, cache);
    if (!rule.test(value) || excluded(rule, target.location)) continue;
    matches.push({
      ruleId: rule.id,
      family: rule.family,
      location: target.location,
      severity: rule.severity,
    });
  }
}

/**
 * Creates an engine from `config` and a rule list (the built-in rules by default).
 * Rules above the configured paranoia level are dropped once, here.
 */
export function createWafEngine(
  config: WafConfig = {},
  rules: readonly WafRule[] = DEFAULT_RULES,
): WafEngine {
  const paranoiaLevel = config.paranoiaLevel ?? 1;
  const threshold = config.threshold ?? DEFAULT_THRESHOLD;
  const exclusions: readonly WafExclusion[] = config.exclusions ?? [];
  const maxValueLength = config.maxValueLength ?? DEFAULT_MAX_VALUE_LENGTH;
  const maxValues = config.maxValues ?? DEFAULT_MAX_VALUES;
  const settings: RuleSettings = {
    allowedMethods: new Set(
      (config.allowedMethods ?? DEFAULT_ALLOWED_METHODS).map((method) => method.toUpperCase()),
    ),
  };
  const active = rules.filter((rule) => rule.paranoia <= paranoiaLevel);
  const perRoute = new Map<string, RuleSet>();

  function ruleSetFor(routeId: string): RuleSet {
    let set = perRoute.get(routeId);
    if (set === undefined) {
      set = indexRules(active.filter((rule) => !isRuleDisabled(exclusions, routeId, rule)));
      if (perRoute.size < 10_000) perRoute.set(routeId, set);
    }
    return set;
  }

  function inspectUnsafe(request: WafRequest): WafVerdict {
    const routeId = String(request.routeId ?? '');
    const set = ruleSetFor(routeId);
    const excluded = (rule: WafRule, location: string): boolean =>
      exclusions.length > 0 && isExcluded(exclusions, routeId, rule, location);
    const { targets, truncated } = collectTargets(request, maxValueLength, maxValues);
    const matches: WafMatch[] = [];
    for (const rule of set.requestRules) {
      const location = rule.check(request, targets, settings);
      if (location === undefined || excluded(rule, location)) continue;
      matches.push({ ruleId: rule.id, family: rule.family, location, severity: rule.severity });
    }
    for (const target of targets) {
      const rulesForKind = set.byKind.get(target.kind);
      if (rulesForKind !== undefined) inspectTarget(target, rulesForKind, matches, excluded);
    }
    return buildVerdict(matches, threshold, truncated);
  }

  return {
    paranoiaLevel,
    threshold,
    rules: active,
    inspect(request: WafRequest): WafVerdict {
      try {
        return inspectUnsafe(request);
      } catch {
        return failureVerdict(threshold);
      }
    },
  };
}
