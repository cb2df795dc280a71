import { join } from 'node:path';

import { describe, expect, it } from 'vitest';

import { loadCorpus, type BenchCase } from '../../../bench/waf/corpus.js';
import { scoreCases, totalScore, type FamilyScore } from '../../../bench/waf/report.js';
import { createWafEngine } from '../../../src/perimeter/waf/index.js';

const SAMPLE = join(import.meta.dirname, '../../fixtures/waf');

/** Methods the CRS regression tests treat as allowed. */
const CRS_ALLOWED_METHODS = ['GET', 'HEAD', 'POST', 'OPTIONS'];

const corpus = loadCorpus(SAMPLE);
const cases: BenchCase[] = corpus.cases.filter((item) => item.raw === undefined);
const engine = createWafEngine({ paranoiaLevel: 1, allowedMethods: CRS_ALLOWED_METHODS });
const blocked = new Map(
  cases.map((item) => [item.id, engine.inspect(item.request).action === 'block']),
);
const scores = scoreCases(cases, blocked, 1);

function score(family: string): FamilyScore {
  const found = scores.find((entry) => entry.family === family);
  if (found === undefined) throw new Error(`family ${family} is missing from the corpus sample`);
  return found;
}

function rate(part: number, whole: number): number {
  return whole === 0 ? 0 : part / whole;
}

describe('corpus sample at paranoia level 1', () => {
  it.each(['930-lfi', '932-rce', '941-xss', '942-sqli', '943-session-fixation'])(
    'detects at least 90% of %s',
    (family) => {
      const { detected, attacks, missed } = score(family);
      expect(attacks).toBeGreaterThan(0);
      expect(rate(detected, attacks), `missed: ${missed.join(' ')}`).toBeGreaterThanOrEqual(0.9);
    },
  );

  it('detects at least 85% of all CRS attacks', () => {
    const total = totalScore(
      'crs',
      scores.filter((entry) => /^\d{3}-/.test(entry.family)),
    );
    expect(rate(total.detected, total.attacks)).toBeGreaterThanOrEqual(0.85);
  });

  it('blocks at most 5% of CRS negative cases', () => {
    const crs = scores.filter((entry) => /^\d{3}-/.test(entry.family));
    const total = totalScore('crs', crs);
    const blockedIds = crs.flatMap((entry) => entry.blockedBenign);
    expect(
      rate(total.falsePositives, total.benign),
      `blocked: ${blockedIds.join(' ')}`,
    ).toBeLessThanOrEqual(0.05);
  });

  it.each(['user-agents', 'libinjection-benign'])('blocks no %s case', (family) => {
    const { benign, blockedBenign } = score(family);
    expect(benign).toBeGreaterThan(0);
    expect(blockedBenign).toEqual([]);
  });

  it('blocks no strict-benign case', () => {
    const strict = cases.filter((item) => item.strictBenign && blocked.get(item.id) === true);
    expect(strict.map((item) => item.id)).toEqual([]);
  });
});
