import { SEVERITY, type WafRule } from '../rule.js';
import { detectSqlInjection } from '../sqli-detector.js';
import { ARGS, ARGS_AND_HEADERS, DECODE, SQL_DECODE, patternRule } from './common.js';
import {
  SQL_FUNCTION_NAMES,
  SQL_PROSE_FUNCTION_NAMES,
  SQL_SYSTEM_OBJECTS,
} from './sqli-functions.js';

/** Headers that applications often store or query, inspected for SQL injection. */
const SQL_HEADERS: readonly string[] = ['user-agent', 'referer', 'x-forwarded-for', 'x-real-ip'];

/** SQL injection rules: the tokenizer-based detector, then patterns for well-known payload pieces. */
export const SQLI_RULES: WafRule[] = [
  {
    id: 942100,
    family: 'sqli',
    paranoia: 1,
    severity: SEVERITY.critical,
    description: 'SQL injection found by the SQL tokenizer',
    scope: 'value',
    targets: [...ARGS_AND_HEADERS, 'path'],
    headers: SQL_HEADERS,
    transforms: DECODE,
    test: detectSqlInjection,
  },
  patternRule({
    id: 942140,
    family: 'sqli',
    paranoia: 1,
    severity: SEVERITY.critical,
    description: 'Name of a database system schema or table',
    targets: ARGS,
    transforms: SQL_DECODE,
    pattern: `(?:^|[^a-z0-9_])(?:${SQL_SYSTEM_OBJECTS.join('|')})`,
  }),
  patternRule({
    id: 942151,
    family: 'sqli',
    paranoia: 1,
    severity: SEVERITY.critical,
    description: 'SQL function name followed by an opening parenthesis',
    targets: ARGS,
    transforms: SQL_DECODE,
    needles: ['('],
    pattern: `(?:^|[^a-z0-9_.$])(?:(?:${SQL_FUNCTION_NAMES.join('|')})\\s*\\\\?=?\\s*|(?:${SQL_PROSE_FUNCTION_NAMES.join('|')})\\\\?=?)\\(`,
  }),
  patternRule({
    id: 942160,
    family: 'sqli',
    paranoia: 1,
    severity: SEVERITY.critical,
    description: 'Time-based blind injection: sleep(), benchmark(), pg_sleep, waitfor delay',
    targets: ARGS_AND_HEADERS,
    headers: SQL_HEADERS,
    transforms: SQL_DECODE,
    needles: ['sleep', 'benchmark', 'waitfor', 'dbms_lock', 'dbms_pipe'],
    pattern:
      '\\b(?:sleep|benchmark|pg_sleep)\\s*\\(|\\bselect\\s+pg_sleep\\b|\\bwaitfor\\s+(?:delay|time)\\b|dbms_(?:lock\\.sleep|pipe\\.receive_message)',
  }),
  patternRule({
    id: 942190,
    family: 'sqli',
    paranoia: 1,
    severity: SEVERITY.critical,
    description: 'SQL Server command execution, file writes and schema enumeration',
    targets: ARGS,
    transforms: SQL_DECODE,
    needles: ['exec', 'into', 'from', 'union', 'select'],
    pattern:
      '\\bexec(?:ute)?\\s+(?:master\\.|xp_|sp_)|\\binto\\s+(?:out|dump)file\\b|\\bfrom\\s+information_schema\\b|\\bunion\\s+(?:all\\s+|distinct\\s+)?\\(?\\s*select\\b|[\'"\\x60]\\s*select\\s+[a-z]',
  }),
  patternRule({
    id: 942220,
    family: 'sqli',
    paranoia: 1,
    severity: SEVERITY.critical,
    description: 'Integer or floating-point overflow value used to crash database drivers',
    targets: ARGS,
    transforms: DECODE,
    needles: ['429496729', '214748364', '2.2250738585072011e-308', '1e309', '9223372036854775808'],
    pattern:
      '^(?:-?(?:4294967296|4294967295|2147483648|2147483647|9223372036854775808|9223372036854775807)|-?2\\.2250738585072011e-308|-?1e309)$|2\\.2250738585072011e-308',
  }),
  patternRule({
    id: 942230,
    family: 'sqli',
    paranoia: 1,
    severity: SEVERITY.critical,
    description: 'Conditional SQL: ) like (, case when ... then',
    targets: ARGS,
    transforms: SQL_DECODE,
    needles: ['like', 'case', 'rlike', 'regexp'],
    pattern: '\\)\\s*(?:r?like|regexp)\\s*\\(|\\bcase\\s+when\\b.{1,100}?\\bthen\\b',
  }),
  patternRule({
    id: 942290,
    family: 'sqli',
    paranoia: 1,
    severity: SEVERITY.critical,
    description: 'MongoDB query operator in an argument name or JSON key',
    targets: ['query-name', 'body-name', 'cookie-name'],
    transforms: DECODE,
    needles: ['$'],
    pattern:
      '(?:^|\\[)\\$(?:ne|eq|gt|gte|lt|lte|in|nin|regex|where|exists|not|nor|or|and|elemmatch|text|expr|type|all|size|mod|jsonschema|function|accumulator|lookup)(?:\\]|$)',
  }),
  patternRule({
    id: 942320,
    family: 'sqli',
    paranoia: 1,
    severity: SEVERITY.critical,
    description: 'Stored procedure or PostgreSQL cast: procedure analyse, ::int, ::bigint',
    targets: ARGS,
    transforms: SQL_DECODE,
    needles: ['procedure', '::', 'div'],
    pattern:
      '\\bprocedure\\s+analyse\\b|::\\s*(?:int|integer|bigint|smallint|text|varchar|numeric|double\\s+precision|real|bool|boolean|jsonb?|regclass|oid)\\b|\\bdiv\\s*\\(\\s*[0-9.]+\\s*,',
  }),
  patternRule({
    id: 942360,
    family: 'sqli',
    paranoia: 1,
    severity: SEVERITY.critical,
    description:
      'Concatenated SQL fragments: ` as `x` from, create table, alter table, ; replace ... values',
    targets: ARGS,
    transforms: SQL_DECODE,
    needles: [' as', 'table', 'replace', 'into'],
    pattern:
      '[\\x60"\'0-9]\\s*as\\s*[\\x60"\']?[a-z0-9_]*[\\x60"\']?\\s+from\\b|\\b(?:create|alter|drop|truncate)\\s+table\\s+[a-z\\x60"\\[]|;\\s*(?:replace|insert)\\b.{0,100}\\bvalues\\s*\\(',
  }),
  patternRule({
    id: 942500,
    family: 'sqli',
    paranoia: 1,
    severity: SEVERITY.critical,
    description: 'MySQL executable comment /*! ... */ or optimizer hint /*+ ... */',
    targets: ARGS,
    transforms: DECODE,
    needles: ['/*!', '/*+'],
    pattern: '/\\*[!+]',
  }),
  patternRule({
    id: 942550,
    family: 'sqli',
    paranoia: 1,
    severity: SEVERITY.critical,
    description:
      'JSON operator injection: a quoted JSON value cast or compared with ::json, <@, @>, ->>, #>, ?|',
    targets: [...ARGS, 'path'],
    transforms: DECODE,
    needles: ['json', '<@', '@>', '->', '#>', '#-', '?|', '?&', '@?', '@@'],
    pattern:
      '[\'"]\\s*::\\s*jsonb?\\b|[\'"\\]]\\s*(?:<@|@>|->>?|#>>?|#-|\\?[|&]|@\\?|@@)\\s*[\'"0-9a]|\\bjson_extract\\s*\\(',
  }),
];
