/* eslint-disable security/detect-non-literal-fs-filename -- corpus paths come from the command line or the repository */
/**
 * Replays the WAF test corpora and prints detection and false-positive rates per
 * family and paranoia level. Usage:
 *
 *   npx tsx bench/waf/run.ts [--corpus DIR] [--paranoia 1,2] [--http URL] [--show FAMILY]
 *
 * Without `--http` the engine runs in-process. With it, every case is sent as a raw
 * HTTP/1.1 request to a server on 127.0.0.1, and a 403 response whose JSON error code
 * is `waf_blocked` counts as blocked. `--show FAMILY` lists missed and wrongly blocked ids.
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';

import { createWafEngine, type ParanoiaLevel } from '../../src/perimeter/waf/index.js';
import { loadCorpus, type BenchCase, type Corpus, type SkippedCase } from './corpus.js';
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

/** Reports whether a family name is a CRS one such as `942-sqli`. */
function isCrsFamily(family: string): boolean {
  return (
    family.length > 4 &&
    family[3] === '-' &&
    [...family.slice(0, 3)].every((c) => c >= '0' && c <= '9')
  );
}

function skippedCases(corpus: Corpus, cases: readonly BenchCase[]): SkippedCase[] {
  const skipped = [...corpus.skipped];
  if (values.http !== undefined) return skipped;
  for (const item of cases) {
    if (item.raw === undefined) continue;
    skipped.push({
      id: item.id,
      family: item.family,
      reason: 'needs a raw socket; run with --http',
    });
  }
  return skipped;
}

async function printLevel(runnable: readonly BenchCase[], paranoia: ParanoiaLevel): Promise<void> {
  const blocked = await replay(runnable, paranoia);
  const scores = scoreCases(runnable, blocked, paranoia);
  const crs = scores.filter((score) => isCrsFamily(score.family));
  console.log('\n' + formatTable(paranoia, [...scores, totalScore('all CRS request cases', crs)]));

  const strict = runnable.filter((item) => item.strictBenign && blocked.get(item.id) === true);
  const strictIds = strict.map((item) => item.id).join(', ');
  console.log(
    `strict-benign cases blocked: ${strict.length}${strict.length > 0 ? ` (${strictIds})` : ''}`,
  );

  for (const family of values.show ?? []) {
    const score = scores.find((entry) => entry.family === family);
    if (score === undefined) continue;
    console.log(`${family} missed: ${score.missed.join(' ')}`);
    console.log(`${family} blocked benign: ${score.blockedBenign.join(' ')}`);
  }
}

function printSkipped(skipped: readonly SkippedCase[]): void {
  const reasons = new Map<string, number>();
  for (const item of skipped) {
    const key = `${item.family}: ${item.reason}`;
    reasons.set(key, (reasons.get(key) ?? 0) + 1);
  }
  console.log('\nskipped cases:');
  for (const [reason, count] of [...reasons].sort()) console.log(`  ${count} ${reason}`);
}

async function main(): Promise<void> {
  const dir = corpusDir();
  const corpus = loadCorpus(dir);
  const cases = [...corpus.cases, ...loadPromptCases(PROMPTS)];
  const runnable =
    values.http === undefined ? cases.filter((item) => item.raw === undefined) : cases;
  const skipped = skippedCases(corpus, cases);
  console.log(`corpus: ${dir}`);
  console.log(`cases: ${runnable.length} replayed, ${skipped.length} skipped`);

  const levels = (values.paranoia ?? '1').split(',').map((level) => Number(level) as ParanoiaLevel);
  for (const paranoia of levels) await printLevel(runnable, paranoia);
  printSkipped(skipped);
}

main().catch((error: unknown) => {
  console.error('WAF bench failed:', error);
  process.exitCode = 1;
});
