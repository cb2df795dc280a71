import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { loadCorpus, type BenchCase } from '../../../bench/waf/corpus.js';
import { parseLoopbackUrl, replayOverHttp, type Outcome } from '../../../bench/waf/http-client.js';
import { loadPromptCases } from '../../../bench/waf/prompts.js';
import { scoreCases, totalScore, type FamilyScore } from '../../../bench/waf/report.js';
import { startTestServer, type TestServer } from '../../support/test-server.js';

const FIXTURES = join(import.meta.dirname, '../../fixtures/waf');

/** Connections the replay opens at a time; each case uses its own connection. */
const CONCURRENCY = 4;

// The committed sample: every case in the files, in file order, so every run replays the same
// requests. Raw-socket cases are not part of the sample.
const cases: BenchCase[] = [
  ...loadCorpus(FIXTURES).cases,
  ...loadPromptCases(join(FIXTURES, 'benign-prompts.json')),
];

let t: TestServer;
let outcomes: Map<string, Outcome>;
let scores: FamilyScore[];

beforeAll(async () => {
  t = await startTestServer({ env: { WAF_MODE: 'block', WAF_PARANOIA_LEVEL: '1' } });
  outcomes = await replayOverHttp(parseLoopbackUrl(t.url), cases, CONCURRENCY);
  scores = scoreCases(cases, outcomes, 1);
}, 300_000);

afterAll(async () => {
  await t?.stop();
});

function score(family: string): FamilyScore {
  const found = scores.find((entry) => entry.family === family);
  if (found === undefined) throw new Error(`family ${family} is missing from the corpus sample`);
  return found;
}

function crsTotal(): FamilyScore {
  return totalScore(
    'crs',
    scores.filter((entry) => /^\d{3}-/.test(entry.family)),
  );
}

function rate(part: number, whole: number): number {
  return whole === 0 ? 0 : part / whole;
}

describe('corpus sample over HTTP at paranoia level 1', () => {
  it('replays every case', () => {
    expect(cases.length).toBeGreaterThan(2000);
    expect(outcomes.size).toBe(cases.length);
  });

  // Form, XML and multipart bodies count too: the server reads them for the WAF before it
  // rejects them with 415, or responds 404 on an unknown path.
  it.each(['930-lfi', '932-rce', '941-xss', '942-sqli', '943-session-fixation'])(
    'detects at least 90%% of %s',
    (family) => {
      const { detected, attacks, missed } = score(family);
      expect(attacks).toBeGreaterThan(0);
      expect(rate(detected, attacks), `missed: ${missed.join(' ')}`).toBeGreaterThanOrEqual(0.9);
    },
  );

  it('detects at least 85% of all CRS attacks', () => {
    const { detected, attacks } = crsTotal();
    expect(attacks).toBeGreaterThan(200);
    expect(rate(detected, attacks)).toBeGreaterThanOrEqual(0.85);
  });

  it('blocks at most 5% of CRS negative cases', () => {
    const total = crsTotal();
    expect(total.benign).toBeGreaterThan(100);
    expect(
      rate(total.falsePositives, total.benign),
      `blocked: ${total.blockedBenign.join(' ')}`,
    ).toBeLessThanOrEqual(0.05);
  });

  it.each(['user-agents', 'libinjection-benign', 'benign-prompts'])(
    'blocks no %s case',
    (family) => {
      const { benign, blockedBenign } = score(family);
      expect(benign).toBeGreaterThan(0);
      expect(blockedBenign).toEqual([]);
    },
  );

  it('blocks no strict-benign case', () => {
    const strict = cases.filter((item) => item.strictBenign && outcomes.get(item.id) !== 'passed');
    expect(strict.map((item) => item.id)).toEqual([]);
  });

  it('blocks attacks in the WAF itself', () => {
    const byWaf = [...outcomes.values()].filter((outcome) => outcome === 'waf').length;
    expect(byWaf).toBeGreaterThan(crsTotal().detectedByHttp);
    expect(byWaf).toBeGreaterThan(500);
  });
});
