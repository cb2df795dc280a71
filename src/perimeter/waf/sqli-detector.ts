import { re2CaseSensitive } from './rule.js';
import { sqlFingerprint } from './sqli-tokenizer.js';

/**
 * Statement shapes that are hard to read as prose: `select 1`, `select user()`,
 * `select a, b`, `select a from`, `insert into`, `update t set`, `drop table`,
 * `exec xp_...`, `exec master..xp_...`, `declare @x`, `waitfor delay '0:0:5'`, `shutdown`.
 */
const STATEMENT = '(?:E(?:[nvVfFo(*]|s[,K&]|w[,K.])|M[kK]|Mwk|T[kK]|X(?:(?:w\\.+)?[sFvV(c]|ks|$))';

/** A value followed by what ends or extends a condition: `1=`, `'a' or`, `1--`, `1)`. */
const CONDITION_VALUE = '(?:[nv](?:[=Lo&;)cC]|$)|s[=Lo&;)cC]|V|[fF]\\(|\\(|w[=L])';

/**
 * Fingerprint shapes of injection, each a linear-time RE2 pattern over the token letters
 * from `sqlFingerprint`. Quote shapes apply only when the value starts by closing a quote.
 */
const ANYWHERE_SHAPES = [
  // union-based: `union select`, `union (select`
  'U\\(*E',
  // stacked query: `; drop table`, `;select 1`
  `;\\(*${STATEMENT}`,
  // sub-query: `(select 1)`
  `\\(${STATEMENT}`,
  // boolean test after a value: `1 or 1=1`, `x' and 'a'='a`, `or @@version>1`
  '[nsw)]\\)*&\\(*[nsvV]\\)*[=L]\\(*[nsvVfF]',
  // logic operator followed by a function call on a value: `1 and ascii(substr(...))`
  '[ns)]\\)*&\\(*[fF]\\(',
  // call of a blind or error-based attack function after an operator or a value
  '(?:^|[&=Lo(,;snU])F',
  // system variables such as `@@version`
  'V',
];

const QUOTE_SHAPES = [
  // after the closing quote: a condition, union, stacked statement or comment
  `^s\\)*&${CONDITION_VALUE}`,
  `^s\\)*(?:U\\(*E|;\\(*${STATEMENT}|c)`,
  // `'='1`, `' = 1 --`, `'+sleep(5)`
  '^s\\)*=[nsvV](?:$|[&cC;)U=o])',
  '^s\\)*o[vVfF(]',
  // `' order by 1`, `' having 1=1`, `' into outfile`
  '^s\\)*K[nwkvV(]',
  `^s\\)*${STATEMENT}`,
];

const BARE_SHAPES = [
  // numeric injection at the start: `1 order by 5`, `1 union select`, `1; drop table t`
  `^n\\)*(?:K[nw]|U\\(*E|;\\(*${STATEMENT})`,
  // a whole statement at the start: `select * from users`, `drop table users`
  `^${STATEMENT}`,
];
const anywhere = re2CaseSensitive(ANYWHERE_SHAPES.join('|'));
const inQuote = re2CaseSensitive(QUOTE_SHAPES.join('|'));
const bare = re2CaseSensitive(BARE_SHAPES.join('|'));

/**
 * Reports whether `value` (lower-cased) reads as SQL injection. The value is lexed
 * three times: as given, and as if it continued a single-quoted and a
 * double-quoted literal, which is where most injection lands.
 */
export function detectSqlInjection(value: string): boolean {
  const plain = sqlFingerprint(value).fingerprint;
  if (bare(plain) || anywhere(plain)) return true;
  for (const quote of ["'", '"']) {
    if (!value.includes(quote)) continue;
    const quoted = sqlFingerprint(quote + value);
    if (!quoted.firstStringClosed) continue;
    if (inQuote(quoted.fingerprint) || anywhere(quoted.fingerprint)) return true;
  }
  return false;
}

/** Returns the fingerprints of the three quote contexts, for tests and tuning. */
export function sqlFingerprints(value: string): string[] {
  return ['', "'", '"'].map((quote) => sqlFingerprint(quote + value).fingerprint);
}
