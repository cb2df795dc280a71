import { describe, expect, it } from 'vitest';

import { createWafEngine } from '../../src/perimeter/waf/index.js';
import { parseFormPairs } from '../../src/perimeter/waf/targets.js';
import type { WafRequest } from '../../src/perimeter/waf/types.js';

// A 10 MB form of 2.5 million pairs: only the first 1,024 values are inspected, so decoding
// the rest would spend CPU on input the WAF never reads.
const LARGE_FORM = 'a=1&'.repeat(2_500_000);

function formRequest(body: string): WafRequest {
  return {
    method: 'POST',
    path: '/unknown',
    rawQuery: '',
    headers: {
      'user-agent': 'large-form-test',
      'content-type': 'application/x-www-form-urlencoded',
    },
    cookies: {},
    body,
    bodyKind: 'admin',
    routeId: 'not_found',
  };
}

describe('WAF form parsing', () => {
  it('stops at the pair limit', () => {
    expect(parseFormPairs(LARGE_FORM, 1024)).toHaveLength(1024);
  });

  it('parses every pair without a limit', () => {
    expect(parseFormPairs('a=1&&b=%3C&c')).toEqual([
      ['a', '1'],
      ['b', '<'],
      ['c', ''],
    ]);
  });

  it('blocks a form over the value limit', () => {
    const verdict = createWafEngine().inspect(formRequest(LARGE_FORM));
    expect(verdict.action).toBe('block');
    expect(verdict.matches.map((match) => match.ruleId)).toContain(920380);
  });
});
