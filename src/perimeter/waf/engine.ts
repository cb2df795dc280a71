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

/**
 * Remembered matches of short values, by target kind, then location, then value. The location,
 * not the name, is the key because exclusions apply by location and matches report it, and a
 * JSON key's name is the same wherever it sits in the body.
 */
type ValueMemo = Map<TargetKind, Map<string, Map<string, readonly WafMatch[]>>>;

interface RuleSet {
  table: ChainTable;
  byKind: Map<TargetKind, PreparedRule[]>;
  /** Header rules filtered by header name, filled on first use of each name. */
  byHeader: Map<string, PreparedRule[]>;
  requestRules: RequestRule[];
  memo: ValueMemo;
}

/** One remembered value, in the order values were remembered across all routes. */
interface MemoEntry {
  byLocation: Map<string, Map<string, readonly WafMatch[]>>;
  location: string;
  byValue: Map<string, readonly WafMatch[]>;
  value: string;
}

const NEVER_EXCLUDED = (): boolean => false;

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

/** Returns the first of `values` and `depth` in `truncated`: limits whose excess went uninspected. */
function firstUninspected(truncated: readonly string[]): string | undefined {
  for (const location of truncated) {
    if (location === 'values' || location === 'depth') return location;
  }
  return undefined;
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
  return { table, byKind, byHeader: new Map(), requestRules, memo: new Map() };
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
  // Bounded memo of value verdicts, evicted oldest first. The queue lists the remembered values
  // of every route in the order they were added, from index `oldestMemo` on.
  const memoQueue: Array<MemoEntry | undefined> = [];
  let oldestMemo = 0;

  function rememberedMatches(set: RuleSet, target: Target): readonly WafMatch[] | undefined {
    return set.memo.get(target.kind)?.get(target.location)?.get(target.value);
  }

  function rememberMatches(set: RuleSet, target: Target, found: readonly WafMatch[]): void {
    if (memoQueue.length - oldestMemo >= MAX_MEMO_ENTRIES) {
      const oldest = memoQueue[oldestMemo];
      memoQueue[oldestMemo] = undefined;
      oldestMemo += 1;
      oldest?.byValue.delete(oldest.value);
      if (oldest?.byValue.size === 0) oldest.byLocation.delete(oldest.location);
      // Drops the evicted head once it is as long as the live part, so the queue stays bounded.
      if (oldestMemo >= MAX_MEMO_ENTRIES) {
        memoQueue.splice(0, oldestMemo);
        oldestMemo = 0;
      }
    }
    let byLocation = set.memo.get(target.kind);
    if (byLocation === undefined) {
      byLocation = new Map();
      set.memo.set(target.kind, byLocation);
    }
    let byValue = byLocation.get(target.location);
    if (byValue === undefined) {
      byValue = new Map();
      byLocation.set(target.location, byValue);
    }
    byValue.set(target.value, found);
    memoQueue.push({ byLocation, location: target.location, byValue, value: target.value });
  }

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
    const excluded =
      exclusions.length === 0
        ? NEVER_EXCLUDED
        : (rule: WafRule, location: string): boolean =>
            isExcluded(exclusions, routeId, rule, location);
    const { targets, truncated } = collectTargets(request, maxValueLength, maxValues);
    const matches: WafMatch[] = [];
    const uninspected = firstUninspected(truncated);
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
      // version), so the matches of short values are remembered per route, kind and location.
      const memoized = target.value.length <= MAX_MEMO_VALUE_LENGTH;
      const remembered = memoized ? rememberedMatches(set, target) : undefined;
      if (remembered !== undefined) {
        for (const match of remembered) matches.push(match);
        continue;
      }
      const before = matches.length;
      inspectTarget(target, rulesForTarget, set.table, matches, excluded);
      if (memoized) rememberMatches(set, target, matches.slice(before));
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
