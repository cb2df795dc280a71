import { describe, expect, it } from 'vitest';

import {
  createWafEngine,
  DEFAULT_RULES,
  type ValueRule,
} from '../../../src/perimeter/waf/index.js';
import { applyTransforms } from '../../../src/perimeter/waf/transform-chain.js';
import { makeRequest } from './helpers.js';

/** Inspected values are cut to 64 KiB, so this is the largest input a rule receives. */
const SIZE = 65_536;

/**
 * Repeated units that the quantifiers of the rule patterns and the tokenizers accept:
 * letters, blanks, quotes, brackets, separators, escapes and half-finished constructs.
 */
const UNITS = [
  'a',
  ' ',
  "'",
  '"',
  '`',
  '<',
  '<a ',
  '<a b=',
  '(',
  ')',
  '[',
  '{',
  '${',
  '$(',
  '/',
  '../',
  '\\',
  '%',
  '%25',
  '&#',
  '&lt;',
  ';',
  '|',
  '&',
  '=',
  '-',
  '--',
  '/*',
  '#',
  '0',
  '1 or ',
  "' or '",
  'on',
  'onload=',
  'select ',
  'union ',
  'javascript:',
  'cat ',
  '\n',
  '\u0000',
  '\uff1c',
];

const valueRules = DEFAULT_RULES.filter((rule): rule is ValueRule => rule.scope === 'value');

function elapsedMs(run: () => void): number {
  const start = process.hrtime.bigint();
  run();
  return Number(process.hrtime.bigint() - start) / 1e6;
}

describe('rules on adversarial 64 KiB inputs', () => {
  // NOTE: the bound is generous so a loaded CI machine passes; a super-linear pattern
  // takes seconds to minutes on these inputs, far above it.
  const PER_RULE_LIMIT_MS = 1500;

  it.each(valueRules.map((rule) => [rule.id, rule] as const))(
    'rule %i stays linear',
    (_id, rule) => {
      let slowest = 0;
      for (const unit of UNITS) {
        const input = applyTransforms(
          unit.repeat(Math.ceil(SIZE / unit.length)).slice(0, SIZE),
          rule.transforms,
        );
        slowest = Math.max(
          slowest,
          elapsedMs(() => rule.test(input)),
        );
      }
      expect(slowest).toBeLessThan(PER_RULE_LIMIT_MS);
    },
  );
});

describe('engine on adversarial requests', () => {
  it('inspects a request of many 64 KiB values within a bound', () => {
    const engine = createWafEngine({ paranoiaLevel: 4 });
    const big = (unit: string): string => unit.repeat(Math.ceil(SIZE / unit.length)).slice(0, SIZE);
    const request = makeRequest({
      method: 'POST',
      rawQuery: `a=${encodeURIComponent(big("' or '"))}&b=${encodeURIComponent(big('<a b='))}`,
      headers: { host: 'x', 'user-agent': big(';cat '), referer: big('${') },
      body: { c: big('../'), d: big('/*'), e: big('$(') },
      bodyKind: 'admin',
    });
    const elapsed = elapsedMs(() => engine.inspect(request));
    expect(elapsed).toBeLessThan(10_000);
  });
});
