import { isExcluded, isRuleDisabled } from './exclusions.js';
import {
  SEVERITY,
  type RequestRule,
  type RuleSettings,
  type Target,
  type TargetKind,
  type WafRule,
} from './rule.js';
import { DEFAULT_RULES } from './rules/index.js';
import { collectTargets } from './targets.js';
import {
  appliesToHeader,
  ChainTable,
  inspectTarget,
  prepareRule,
  type PreparedRule,
} from './value-inspection.js';
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

/**
 * Rule that matches when a request has more values than are inspected or JSON nested deeper
 * than is walked. Values past either limit are never inspected, so such a request is blocked
 * whatever the threshold: padding a query with harmless pairs must not hide the body.
 */
export const UNINSPECTED_VALUES_RULE: RequestRule = {
  id: 920380,
  family: 'protocol',
  paranoia: 1,
  severity: SEVERITY.critical,
  description: 'More values or deeper JSON nesting than the WAF inspects',
  scope: 'request',
  check: () => undefined,
};

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
  table: ChainTable;
  byKind: Map<TargetKind, PreparedRule[]>;
  /** Header rules filtered by header name, filled on first use of each name. */
  byHeader: Map<string, PreparedRule[]>;
  requestRules: RequestRule[];
}

/** Maximum distinct header names whose rule lists are cached per route. */
const MAX_CACHED_HEADER_NAMES = 256;

/** Values longer than this are inspected every time instead of remembered. */
const MAX_MEMO_VALUE_LENGTH = 256;
const MAX_MEMO_ENTRIES = 10_000;

function rulesFor(set: RuleSet, target: Target): readonly PreparedRule[] | undefined {
  if (target.kind !== 'header') return set.byKind.get(target.kind);
  let rules = set.byHeader.get(target.name);
  if (rules === undefined) {
    rules = (set.byKind.get('header') ?? []).filter(({ rule }) =>
      appliesToHeader(rule, target.name),
    );
    if (set.byHeader.size < MAX_CACHED_HEADER_NAMES) set.byHeader.set(target.name, rules);
  }
  return rules;
}

function indexRules(rules: readonly WafRule[]): RuleSet {
  const table = new ChainTable();
  const byKind = new Map<TargetKind, PreparedRule[]>();
  const requestRules: RequestRule[] = [];
  for (const rule of rules) {
    if (rule.scope === 'request') {
      requestRules.push(rule);
      continue;
    }
    const prepared = prepareRule(rule, table);
    for (const kind of rule.targets) {
      const list = byKind.get(kind) ?? [];
      list.push(prepared);
      byKind.set(kind, list);
    }
  }
  return { table, byKind, byHeader: new Map(), requestRules };
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
  // Bounded memo of value verdicts; Map keeps insertion order, so the first key is the oldest.
  const memo = new Map<string, readonly WafMatch[]>();
  const rememberMatches = (key: string, found: readonly WafMatch[]) => {
    if (memo.size >= MAX_MEMO_ENTRIES) {
      const oldest = memo.keys().next().value;
      if (oldest !== undefined) memo.delete(oldest);
    }
    memo.set(key, found);
  };

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
    const uninspected = truncated.find((location) => location === 'values' || location === 'depth');
    if (
      uninspected !== undefined &&
      !isRuleDisabled(exclusions, routeId, UNINSPECTED_VALUES_RULE) &&
      !excluded(UNINSPECTED_VALUES_RULE, uninspected)
    ) {
      const { id, family } = UNINSPECTED_VALUES_RULE;
      matches.push({ ruleId: id, family, location: uninspected, severity: threshold });
    }
    for (const rule of set.requestRules) {
      const location = rule.check(request, targets, settings);
      if (location === undefined || excluded(rule, location)) continue;
      matches.push({ ruleId: rule.id, family: rule.family, location, severity: rule.severity });
    }
    for (const target of targets) {
      const rulesForTarget = rulesFor(set, target);
      if (rulesForTarget === undefined) continue;
      // Most header values repeat from request to request (user agent, content type, API
      // version), so the matches of short values are remembered per route and location.
      const memoKey =
        target.value.length <= MAX_MEMO_VALUE_LENGTH
          ? `${routeId}\u0000${target.kind}\u0000${target.name}\u0000${target.value}`
          : undefined;
      const remembered = memoKey === undefined ? undefined : memo.get(memoKey);
      if (remembered !== undefined) {
        matches.push(...remembered);
        continue;
      }
      const before = matches.length;
      inspectTarget(target, rulesForTarget, set.table, matches, excluded);
      if (memoKey !== undefined) rememberMatches(memoKey, matches.slice(before));
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
