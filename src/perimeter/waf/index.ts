export {
  createWafEngine,
  DEFAULT_MAX_VALUE_LENGTH,
  DEFAULT_MAX_VALUES,
  DEFAULT_THRESHOLD,
} from './engine.js';
export type { WafEngine } from './engine.js';
export { DEFAULT_RULES } from './rules/index.js';
export type { WafRule, ValueRule, RequestRule, Target, TargetKind } from './rule.js';
export type {
  ParanoiaLevel,
  WafBodyKind,
  WafConfig,
  WafExclusion,
  WafFamily,
  WafMatch,
  WafRequest,
  WafVerdict,
} from './types.js';
