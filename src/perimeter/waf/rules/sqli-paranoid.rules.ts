import { SEVERITY, type WafRule } from '../rule.js';
import { ARGS, DECODE, SQL_DECODE, patternRule } from './common.js';
import { SQL_FUNCTION_NAMES, SQL_PROSE_FUNCTION_NAMES } from './sqli-functions.js';

/** More SQL functions that occur in prose, inspected with a parenthesis at paranoia level 2. */
const EXTRA_FUNCTIONS = [
  'date',
  'format',
  'if',
  'length',
  'minute',
  'hour',
  'second',
  'day',
  'month',
  'year',
  'quarter',
  'week',
  'round',
  'user',
  'count',
  'sum',
  'min',
  'max',
  'left',
  'right',
  'char',
  'replace',
  'position',
  'insert',
  'values',
  'exists',
  'row',
  'now',
  'local',
  'timestamp',
  'interval',
  'cast',
  'truncate',
];

/** SQL injection rules for paranoia level 2 and above, which also match some technical prose. */
export const SQLI_PARANOID_RULES: WafRule[] = [
  patternRule({
    id: 942210,
    family: 'sqli',
    paranoia: 2,
    severity: SEVERITY.critical,
    description:
      'Chained condition: a logic operator followed by a comparison, or a stacked statement',
    targets: ARGS,
    transforms: SQL_DECODE,
    pattern:
      '(?:^|[^a-z0-9_])(?:(?:and|or|xor)\\b|&&|\\|\\|)\\s*\\(?\\s*[a-z0-9_@.`\'"]*\\s*(?:[!=<>]=?|<>|==)\\s*[0-9\'"(@a-z!-]|;\\s*(?:drop|set\\s+@|select|insert|update|delete|exec\\s+(?:master|xp_|sp_)|declare|shutdown|truncate|alter|create)\\b',
  }),
  patternRule({
    id: 942410,
    family: 'sqli',
    paranoia: 2,
    severity: SEVERITY.critical,
    description:
      'SQL function name, including ones that are English words, followed by a parenthesis',
    targets: ARGS,
    transforms: SQL_DECODE,
    needles: ['('],
    pattern: `(?:^|[^a-z0-9_$])(?:(?:${SQL_FUNCTION_NAMES.join('|')})\\s*|(?:${[...SQL_PROSE_FUNCTION_NAMES, ...EXTRA_FUNCTIONS].join('|')}))(?:\\.\\s*|\\|\\|)?\\(`,
  }),
  patternRule({
    id: 942120,
    family: 'sqli',
    paranoia: 2,
    severity: SEVERITY.critical,
    description: 'SQL operator: !=, >=, <>, ||, regexp, rlike, in (...), is null, not between',
    targets: ARGS,
    transforms: SQL_DECODE,
    pattern:
      '!=|<=|>=|<>|\\|\\||\\bregexp\\b|\\brlike\\b|\\bin\\s*\\(\\s*[0-9\'"]|\\bis\\s+(?:not\\s+)?null\\b|\\bnot\\s+between\\b|\\bsounds\\s+like\\b',
  }),
  patternRule({
    id: 942362,
    family: 'sqli',
    paranoia: 2,
    severity: SEVERITY.critical,
    description:
      'Fragment of a select list or clause: ) as x from, ` regexp, ; select, order by, execute x',
    targets: ARGS,
    transforms: SQL_DECODE,
    pattern:
      '\\)\\s*as\\s+[a-z0-9_]+\\s+from\\b|\\x60\\s*(?:r?like|regexp)\\b|;\\s*select\\b|(?:^|[^a-z])(?:order\\s+by|group\\s+by|execute\\s+[a-z]|union\\s+all)\\b',
  }),
  patternRule({
    id: 942520,
    family: 'sqli',
    paranoia: 2,
    severity: SEVERITY.critical,
    description: 'Closing quote followed by an SQL operator word, or by arithmetic and a comment',
    targets: ARGS,
    transforms: DECODE,
    needles: ["'", '"', '`', '\u2019'],
    pattern:
      '[\'"\\x60\\x{2019}]\\s*(?:not\\s+)?(?:glob|mod|div|rlike|regexp|sounds|xor)\\b\\s*[a-z0-9_(-]|[\'"\\x60\\x{2019}]\\s*[+*/%-]\\s*[a-z_]+\\s*(?:--|#)|\\x{2019}\\s*(?:or|and)\\s*\\x{2019}',
  }),
];
