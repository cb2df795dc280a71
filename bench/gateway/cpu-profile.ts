import { readFile } from 'node:fs/promises';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

/** The parts of a V8 `.cpuprofile` file (written by `node --cpu-prof`) that are read here. */
interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** Time spent in one function or file, in milliseconds and as a share of the busy time. */
export interface ProfileEntry {
  name: string;
  ms: number;
  share: number;
}

export interface ProfileSummary {
  /** Sampled time, idle included. */
  totalMs: number;
  /** Sampled time outside the `(idle)` node: the denominator of every share. */
  busyMs: number;
  /** Time in the function itself, without its callees. */
  selfByFunction: ProfileEntry[];
  /** Self time added up per file, with every file of one npm package counted as the package. */
  selfByModule: ProfileEntry[];
  /** Time in the function and everything it called, for functions of MindWeave's own code. */
  inclusiveOwnCode: ProfileEntry[];
}

function moduleOf(url: string, root: string): string {
  if (url === '') return '(native or V8)';
  const path = url.replace(/^file:\/\//, '');
  const marker = 'node_modules/';
  const at = path.lastIndexOf(marker);
  if (at >= 0) {
    const parts = path.slice(at + marker.length).split('/');
    const scoped = parts[0]?.startsWith('@') === true;
    return `npm:${parts.slice(0, scoped ? 2 : 1).join('/')}`;
  }
  if (path.startsWith(`${root}/`)) return path.slice(root.length + 1);
  return path;
}

function frameName(node: ProfileNode, root: string): string {
  const { functionName, url, lineNumber } = node.callFrame;
  const name = functionName === '' ? '(anonymous)' : functionName;
  if (url === '') return name;
  return `${name} ${moduleOf(url, root)}:${lineNumber + 1}`;
}

const IDLE = '(idle)';

function top(times: Map<string, number>, busyMs: number, count: number): ProfileEntry[] {
  return [...times]
    .sort((a, b) => b[1] - a[1])
    .slice(0, count)
    .map(([name, ms]) => ({ name, ms, share: ms / busyMs }));
}

/**
 * Reads a `.cpuprofile` and ranks where the busy time went. V8 weights each sample by the wall
 * time since the previous one. Time the process spent preempted therefore counts for the
 * function on top of the stack, for example a socket `writev` that woke the peer process. `root` is the folder of the running MindWeave build, and frames under
 * `root/dist` count as MindWeave's own code.
 */
export async function summarizeCpuProfile(
  file: string,
  root: string,
  count: number,
): Promise<ProfileSummary> {
  const profile = JSON.parse(await readFile(file, 'utf8')) as CpuProfile;
  const nodes = new Map(profile.nodes.map((node) => [node.id, node]));
  const parents = new Map<number, number>();
  for (const node of profile.nodes) {
    for (const child of node.children ?? []) parents.set(child, node.id);
  }

  const selfByFunction = new Map<string, number>();
  const selfByModule = new Map<string, number>();
  const inclusive = new Map<string, number>();
  const add = (map: Map<string, number>, key: string, ms: number) =>
    map.set(key, (map.get(key) ?? 0) + ms);
  const ownPrefix = `file://${root}/dist/`;
  let totalMs = 0;
  let idleMs = 0;

  profile.samples.forEach((id, index) => {
    // timeDeltas[i] is the time since the previous sample, in microseconds.
    const ms = (profile.timeDeltas[index] ?? 0) / 1000;
    const node = nodes.get(id);
    if (!node) return;
    totalMs += ms;
    if (node.callFrame.functionName === IDLE) {
      idleMs += ms;
      return;
    }
    add(selfByFunction, frameName(node, root), ms);
    add(selfByModule, moduleOf(node.callFrame.url, root), ms);

    // A recursive function appears more than once on a stack but is counted once per sample.
    const seen = new Set<string>();
    for (let current: ProfileNode | undefined = node; current;) {
      if (current.callFrame.url.startsWith(ownPrefix)) {
        const name = frameName(current, root);
        if (!seen.has(name)) {
          seen.add(name);
          add(inclusive, name, ms);
        }
      }
      const parentId = parents.get(current.id);
      current = parentId === undefined ? undefined : nodes.get(parentId);
    }
  });

  const busyMs = totalMs - idleMs;
  return {
    totalMs,
    busyMs,
    selfByFunction: top(selfByFunction, busyMs, count),
    selfByModule: top(selfByModule, busyMs, count),
    inclusiveOwnCode: top(inclusive, busyMs, count),
  };
}

/** Formats a summary as three plain-text rankings. */
export function formatProfileSummary(summary: ProfileSummary): string {
  const section = (title: string, entries: ProfileEntry[]) =>
    [
      title,
      ...entries.map(
        (entry) =>
          `  ${(entry.share * 100).toFixed(1).padStart(5)}%  ${entry.ms.toFixed(0).padStart(7)} ms  ${entry.name}`,
      ),
    ].join('\n');
  return [
    `CPU profile: ${(summary.totalMs / 1000).toFixed(1)} s sampled, ` +
      `${(summary.busyMs / 1000).toFixed(1)} s of it not idle; shares are of the time not idle`,
    section('Self time by function:', summary.selfByFunction),
    section('Self time by file or npm package:', summary.selfByModule),
    section('Inclusive time of MindWeave functions (dist/):', summary.inclusiveOwnCode),
  ].join('\n\n');
}
