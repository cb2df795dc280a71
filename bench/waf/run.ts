/* eslint-disable security/detect-non-literal-fs-filename -- corpus paths come from the command line or the repository */
/**
 * Replays the WAF test corpora and prints detection and false-positive rates per
 * family and paranoia level. Usage:
 *
 *   npx tsx bench/waf/run.ts [--corpus DIR] [--paranoia 1,2] [--http URL] [--show FAMILY]
 *
 * Without `--http` the engine runs in-process; with it, every case is sent as a raw
 * HTTP/1.1 request to a server on 127.0.0.1, and a 403 whose JSON error code is
 * `waf_blocked` counts as blocked. `--show FAMILY` lists missed and wrongly blocked ids.
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';

import { createWafEngine, type ParanoiaLevel } from '../../src/perimeter/waf/index.js';
import { loadCorpus, type BenchCase } from './corpus.js';
import { parseLoopbackUrl, sendCase } from './http-client.js';
import { loadPromptCases } from './prompts.js';
import { formatTable, scoreCases, totalScore } from './report.js';

const repoRoot = resolve(import.meta.dirname, '../..');
const DEFAULT_CORPUS = resolve(repoRoot, '../shared/testdata/waf');
const SAMPLE_CORPUS = join(repoRoot, 'test/fixtures/waf');
const PROMPTS = join(repoRoot, 'test/fixtures/waf/benign-prompts.json');

/** Methods the CRS tests treat as allowed (its default configuration), used for the in-process replay. */
const CRS_ALLOWED_METHODS = ['GET', 'HEAD', 'POST', 'OPTIONS'];

const { values } = parseArgs({
  options: {
    corpus: { type: 'string' },
    paranoia: { type: 'string', default: '1,2,3,4' },
    http: { type: 'string' },
    show: { type: 'string', multiple: true, default: [] },
  },
});

function corpusDir(): string {
  if (values.corpus !== undefined) return values.corpus;
  return existsSync(DEFAULT_CORPUS) ? DEFAULT_CORPUS : SAMPLE_CORPUS;
}

async function replay(
  cases: readonly BenchCase[],
  paranoia: ParanoiaLevel,
): Promise<Map<string, boolean>> {
  const blocked = new Map<string, boolean>();
  if (values.http !== undefined) {
    const address = parseLoopbackUrl(values.http);
    for (const item of cases) blocked.set(item.id, await sendCase(address, item));
    return blocked;
  }
  const engine = createWafEngine({ paranoiaLevel: paranoia, allowedMethods: CRS_ALLOWED_METHODS });
  for (const item of cases) blocked.set(item.id, engine.inspect(item.request).action === 'block');
  return blocked;
}

async function main(): Promise<void> {
  const dir = corpusDir();
  const corpus = loadCorpus(dir);
  const cases = [...corpus.cases, ...loadPromptCases(PROMPTS)];
  const inProcessOnly = values.http === undefined;
  const runnable = inProcessOnly ? cases.filter((item) => item.raw === undefined) : cases;
  const skipped = [...corpus.skipped];
  if (inProcessOnly) {
    for (const item of cases) {
      if (item.raw !== undefined)
        skipped.push({
          id: item.id,
          family: item.family,
          reason: 'needs a raw socket; run with --http',
        });
    }
  }
  console.log(`corpus: ${dir}`);
  console.log(`cases: ${runnable.length} replayed, ${skipped.length} skipped`);
  const levels = (values.paranoia ?? '1').split(',').map((level) => Number(level) as ParanoiaLevel);
  for (const paranoia of levels) {
    const blocked = await replay(runnable, paranoia);
    const scores = scoreCases(runnable, blocked, paranoia);
    const crs = scores.filter((score) => /^\d{3}-/.test(score.family));
    console.log(
      '\n' + formatTable(paranoia, [...scores, totalScore('all CRS request cases', crs)]),
    );
    const strict = runnable.filter((item) => item.strictBenign && blocked.get(item.id) === true);
    console.log(
      `strict-benign cases blocked: ${strict.length}${strict.length > 0 ? ` (${strict.map((item) => item.id).join(', ')})` : ''}`,
    );
    for (const family of values.show ?? []) {
      const score = scores.find((entry) => entry.family === family);
      if (score === undefined) continue;
      console.log(`${family} missed: ${score.missed.join(' ')}`);
      console.log(`${family} blocked benign: ${score.blockedBenign.join(' ')}`);
    }
  }
  const reasons = new Map<string, number>();
  for (const item of skipped)
    reasons.set(
      `${item.family}: ${item.reason}`,
      (reasons.get(`${item.family}: ${item.reason}`) ?? 0) + 1,
    );
  console.log('\nskipped cases:');
  for (const [reason, count] of [...reasons].sort()) console.log(`  ${count} ${reason}`);
}

main().catch((error: unknown) => {
  console.error('WAF bench failed:', error);
  process.exitCode = 1;
});
