/**
 * Lists the functions with the most CPU time in a V8 `.cpuprofile` (as written by
 * `node --cpu-prof`), by self time and by total time, optionally only for the samples inside one
 * window of the file that `verify.ts --profile-window` writes.
 *
 * Run with `npx tsx bench/audit/profile-top.ts PROFILE [WINDOWS] [--window analyzed] [--top 15]`,
 * where `--window` picks the `unanalyzed` or `analyzed` verification pass in WINDOWS.
 */
import { readFile } from 'node:fs/promises';
import { relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

import { printTable } from './report.js';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  /** Start time in microseconds, on the monotonic clock that `process.hrtime` reads on Linux. */
  startTime: number;
  samples: number[];
  /** Microseconds between consecutive samples. The first is relative to `startTime`. */
  timeDeltas: number[];
}

const { values: options, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    top: { type: 'string', default: '15' },
    window: { type: 'string', default: 'analyzed' },
  },
});
const [profilePath, windowPath] = positionals;
if (profilePath === undefined || positionals.length > 2) {
  console.error(
    'usage: profile-top.ts PROFILE.cpuprofile [WINDOWS.json] [--window analyzed] [--top 15]',
  );
  process.exit(2);
}
const top = Number(options.top);
if (!Number.isInteger(top) || top < 1) {
  throw new RangeError(`--top must be a positive integer, got ${options.top}`);
}

/** Names a profile node by function, file relative to the working directory, and line. */
function frameName(node: ProfileNode): string {
  const { functionName, url, lineNumber } = node.callFrame;
  if (url === '') return functionName || '(anonymous)';
  const file = url.startsWith('file://') ? relative(process.cwd(), fileURLToPath(url)) : url;
  return `${functionName || '(anonymous)'} ${file}:${lineNumber + 1}`;
}

async function main(): Promise<void> {
  // eslint-disable-next-line security/detect-non-literal-fs-filename -- operator-given path
  const profile = JSON.parse(await readFile(profilePath as string, 'utf8')) as CpuProfile;
  let window = { startUs: -Infinity, endUs: Infinity };
  if (windowPath !== undefined) {
    // eslint-disable-next-line security/detect-non-literal-fs-filename -- operator-given path
    const windows = JSON.parse(await readFile(windowPath, 'utf8')) as Record<
      string,
      { startUs: string; endUs: string } | undefined
    >;
    const selected = windows[options.window];
    window = { startUs: Number(selected?.startUs), endUs: Number(selected?.endUs) };
    if (!Number.isFinite(window.startUs) || !(window.endUs > window.startUs)) {
      throw new Error(
        `${windowPath} has no window named ${options.window}. Pass the file verify.ts wrote and ` +
          `--window unanalyzed or analyzed.`,
      );
    }
  }

  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const parentOf = new Map<number, number>();
  for (const node of profile.nodes) {
    for (const child of node.children ?? []) parentOf.set(child, node.id);
  }

  const self = new Map<string, number>();
  const total = new Map<string, number>();
  let inWindow = 0;
  let time = profile.startTime;
  profile.samples.forEach((nodeId, index) => {
    time += profile.timeDeltas[index] ?? 0;
    if (time < window.startUs || time > window.endUs) return;
    inWindow++;
    const node = byId.get(nodeId);
    if (node === undefined) return;
    const name = frameName(node);
    self.set(name, (self.get(name) ?? 0) + 1);
    // A recursive function counts once per sample in the total.
    const seen = new Set<string>();
    for (let id: number | undefined = nodeId; id !== undefined; id = parentOf.get(id)) {
      const ancestor = byId.get(id);
      if (ancestor === undefined) break;
      const ancestorName = frameName(ancestor);
      if (seen.has(ancestorName)) continue;
      seen.add(ancestorName);
      total.set(ancestorName, (total.get(ancestorName) ?? 0) + 1);
    }
  });
  if (inWindow === 0)
    throw new Error(
      'no samples fall inside the window. Pass a profile and a window file of the same run.',
    );

  const percent = (count: number) => `${((100 * count) / inWindow).toFixed(1)}%`;
  const ranked = (counts: Map<string, number>) =>
    [...counts.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([name, count]) => [percent(count), name]);
  console.log(`${inWindow} samples in the window`);
  console.log('\nself time');
  printTable(['share', 'function and location'], ranked(self));
  console.log('\ntotal time (self and callees)');
  printTable(['share', 'function and location'], ranked(total));
}

await main();
