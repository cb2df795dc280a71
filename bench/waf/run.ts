/* eslint-disable security/detect-non-literal-fs-filename -- corpus paths come from the command line or the repository */
/**
 * Replays the WAF test corpora and prints detection and false-positive rates per family and
 * paranoia level. Usage:
 *
 *   npx tsx bench/waf/run.ts [--corpus DIR] [--paranoia 1,2,3,4] [--show FAMILY]
 *     [--in-process | --http URL] [--source head|worktree|COMMIT] [--concurrency 8]
 *     [--allow-type-errors] [--database-admin-url URL] [--help]
 *
 * By default it builds the committed tree of HEAD (`--source worktree` builds the working
 * tree, `--source COMMIT` that commit's tree, and `--allow-type-errors` accepts a build with
 * type errors), then for each paranoia level starts `mindweave serve` on 127.0.0.1 with the
 * WAF at that level, on a fresh PostgreSQL database. It sends every case as a raw HTTP/1.1
 * request on its own connection. A 403 with error code `waf_blocked` counts as blocked by
 * the WAF, and a rejection by Node's parser or the request checks (400, 408, 413, 431, or no
 * response) as blocked by the HTTP layer. `--http URL` replays against a server that is
 * already running on 127.0.0.1 (its paranoia level must match the single level given).
 * `--in-process` calls the engine directly and skips the cases that need a raw socket.
 * `--show FAMILY` lists missed and wrongly blocked ids.
 */
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

import { databaseAdminUrlOption, parseBenchCommandLine } from '../command-line.js';
import { createWafEngine, type ParanoiaLevel } from '../../src/perimeter/waf/index.js';
import { createBenchDatabase, describeCommit } from '../gateway/setup.js';
import { buildSource } from './build.js';
import { loadCorpus, type BenchCase, type Corpus, type SkippedCase } from './corpus.js';
import { parseLoopbackUrl, replayOverHttp, type Outcome } from './http-client.js';
import { loadPromptCases } from './prompts.js';
import { formatTable, scoreCases, totalScore } from './report.js';
import { startReplayServer } from './server.js';
import { casesWithUnreadBody } from './unread-bodies.js';

const repoRoot = resolve(import.meta.dirname, '../..');
const DEFAULT_CORPUS = resolve(repoRoot, '../shared/testdata/waf');
const SAMPLE_CORPUS = join(repoRoot, 'test/fixtures/waf');
const PROMPTS = join(repoRoot, 'test/fixtures/waf/benign-prompts.json');

/** Methods the CRS tests treat as allowed (its default configuration), used for the in-process replay. */
const CRS_ALLOWED_METHODS = ['GET', 'HEAD', 'POST', 'OPTIONS'];

const USAGE = `Usage: npx tsx bench/waf/run.ts [options]

Replays the WAF test corpora and prints detection and false-positive rates.

Options:
  --corpus DIR              corpus folder (default: ../shared/testdata/waf when present,
                            else test/fixtures/waf)
  --paranoia LIST           comma-separated paranoia levels 1 to 4 (default: 1,2,3,4)
  --show FAMILY             list the missed and wrongly blocked case ids of FAMILY (repeatable)
  --in-process              call the WAF engine directly, skipping the raw-socket cases
  --http URL                replay against a server already running on 127.0.0.1 (give
                            the single paranoia level it runs at)
  --source SOURCE           build head (default), worktree or a commit
  --concurrency N           connections used for the replay, 1 to 64 (default: 8)
  --allow-type-errors       accept a build with type errors
  --database-admin-url URL  PostgreSQL admin URL for the fresh bench database
                            (default: $BENCH_DATABASE_ADMIN_URL or
                            postgres://postgres@127.0.0.1:5432/postgres)
  -h, --help                print this help and exit
`;

const { values } = parseBenchCommandLine(
  {
    help: { type: 'boolean', short: 'h', default: false },
    corpus: { type: 'string' },
    paranoia: { type: 'string', default: '1,2,3,4' },
    http: { type: 'string' },
    'in-process': { type: 'boolean', default: false },
    concurrency: { type: 'string', default: '8' },
    source: { type: 'string', default: 'head' },
    'allow-type-errors': { type: 'boolean', default: false },
    show: { type: 'string', multiple: true, default: [] },
    'database-admin-url': databaseAdminUrlOption,
  },
  USAGE,
);

type Mode = 'serve' | 'url' | 'in-process';
const mode: Mode = values['in-process']
  ? 'in-process'
  : values.http !== undefined
    ? 'url'
    : 'serve';
const concurrency = Number(values.concurrency);
if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 64) {
  throw new Error(
    `invalid --concurrency ${String(values.concurrency)}: expected a whole number from 1 to 64`,
  );
}

/** The build and database the replay servers run on, in `serve` mode. */
interface ServeContext {
  buildDir: string;
  workDir: string;
  databaseUrl: string;
}

function corpusDir(): string {
  if (values.corpus !== undefined) return values.corpus;
  return existsSync(DEFAULT_CORPUS) ? DEFAULT_CORPUS : SAMPLE_CORPUS;
}

/** Returns the `commit <hex>` mentions of the corpus README, which name the corpus versions. */
function corpusCommits(dir: string): string[] {
  const readme = join(dir, 'README.md');
  if (!existsSync(readme)) return [];
  const text = readFileSync(readme, 'utf8');
  return [...text.matchAll(/\(([\w/.-]+),[^()]*?commit\s+([0-9a-f]{7,40})/g)].map(
    (match) => `${match[1] ?? ''} ${match[2] ?? ''}`,
  );
}

async function replayInProcess(
  cases: readonly BenchCase[],
  paranoia: ParanoiaLevel,
): Promise<Map<string, Outcome>> {
  const engine = createWafEngine({ paranoiaLevel: paranoia, allowedMethods: CRS_ALLOWED_METHODS });
  const outcomes = new Map<string, Outcome>();
  for (const item of cases) {
    outcomes.set(item.id, engine.inspect(item.request).action === 'block' ? 'waf' : 'passed');
  }
  return outcomes;
}

async function replay(
  cases: readonly BenchCase[],
  paranoia: ParanoiaLevel,
  serve: ServeContext | null,
): Promise<Map<string, Outcome>> {
  if (mode === 'in-process') return replayInProcess(cases, paranoia);
  if (mode === 'url')
    return replayOverHttp(parseLoopbackUrl(values.http ?? ''), cases, concurrency);
  if (serve === null) throw new Error('the replay server needs a build and a database');
  const server = await startReplayServer(
    serve.buildDir,
    serve.workDir,
    serve.databaseUrl,
    paranoia,
  );
  try {
    return await replayOverHttp(parseLoopbackUrl(server.url), cases, concurrency);
  } finally {
    await server.stop();
  }
}

/** Reports whether a family name is a CRS one such as `942-sqli`. */
function isCrsFamily(family: string): boolean {
  return /^\d{3}-/.test(family);
}

function skippedCases(corpus: Corpus, cases: readonly BenchCase[]): SkippedCase[] {
  const skipped = [...corpus.skipped];
  if (mode !== 'in-process') return skipped;
  for (const item of cases) {
    if (item.raw === undefined) continue;
    skipped.push({
      id: item.id,
      family: item.family,
      reason: 'needs a raw socket; run without --in-process',
    });
  }
  return skipped;
}

async function printLevel(
  runnable: readonly BenchCase[],
  paranoia: ParanoiaLevel,
  serve: ServeContext | null,
): Promise<void> {
  const started = performance.now();
  const outcomes = await replay(runnable, paranoia, serve);
  const seconds = (performance.now() - started) / 1000;
  const unread = mode === 'in-process' ? new Set<string>() : casesWithUnreadBody(runnable);
  const scores = scoreCases(runnable, outcomes, paranoia, unread);
  const crs = scores.filter((score) => isCrsFamily(score.family));
  console.log('\n' + formatTable(paranoia, [...scores, totalScore('all CRS request cases', crs)]));

  const strict = runnable.filter((item) => item.strictBenign && outcomes.get(item.id) !== 'passed');
  const strictIds = strict.map((item) => item.id).join(', ');
  console.log(
    `strict-benign cases blocked: ${strict.length}${strict.length > 0 ? ` (${strictIds})` : ''}`,
  );
  console.log(`replayed ${outcomes.size} cases in ${seconds.toFixed(1)} s`);

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

function parseLevels(raw: string): ParanoiaLevel[] {
  const levels = raw.split(',').map(Number);
  for (const level of levels) {
    if (![1, 2, 3, 4].includes(level)) {
      throw new Error(`invalid --paranoia ${raw}: expected levels from 1 to 4, such as 1,2`);
    }
  }
  if (mode === 'url' && levels.length !== 1) {
    throw new Error('--http replays against one running server: give its single --paranoia level');
  }
  return levels as ParanoiaLevel[];
}

async function main(): Promise<void> {
  const levels = parseLevels(values.paranoia ?? '1');
  const dir = corpusDir();
  const corpus = loadCorpus(dir);
  const cases = [...corpus.cases, ...loadPromptCases(PROMPTS)];
  const runnable = mode === 'in-process' ? cases.filter((item) => item.raw === undefined) : cases;
  const skipped = skippedCases(corpus, cases);
  const { commit, dirty } = await describeCommit(repoRoot);
  if (mode !== 'serve') {
    console.log(`MindWeave commit: ${commit}${dirty ? ' plus uncommitted changes in src' : ''}`);
  }
  console.log(`corpus: ${dir}`);
  for (const line of corpusCommits(dir)) console.log(`  ${line}`);
  const how = {
    serve: `through MindWeave's HTTP server on 127.0.0.1, ${concurrency} connections at a time`,
    url: `through ${values.http ?? ''}, ${concurrency} connections at a time`,
    'in-process': 'in-process, engine only',
  }[mode];
  console.log(`replay: ${how}`);
  console.log(`cases: ${runnable.length} replayed, ${skipped.length} skipped`);

  if (mode !== 'serve') {
    for (const paranoia of levels) await printLevel(runnable, paranoia, null);
    printSkipped(skipped);
    return;
  }
  const workDir = await mkdtemp(join(tmpdir(), 'mindweave-waf-bench-'));
  try {
    const source = values.source ?? 'head';
    const built = await buildSource(
      repoRoot,
      workDir,
      source,
      values['allow-type-errors'] === true,
    );
    const suffix = source === 'worktree' && dirty ? ' plus uncommitted changes in src' : '';
    console.log(`MindWeave build: commit ${built.commit}${suffix}`);
    for (const line of built.typeErrors) console.log(`  type error accepted: ${line}`);
    const buildDir = built.buildDir;
    const database = await createBenchDatabase(values['database-admin-url'] ?? '');
    try {
      const serve = { buildDir, workDir, databaseUrl: database.url };
      for (const paranoia of levels) await printLevel(runnable, paranoia, serve);
    } finally {
      await database.drop();
    }
  } finally {
    await rm(workDir, { recursive: true, force: true });
  }
  printSkipped(skipped);
}

main().catch((error: unknown) => {
  console.error('WAF bench failed:', error);
  process.exitCode = 1;
});
