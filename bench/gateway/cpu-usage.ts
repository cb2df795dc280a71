import { readFile } from 'node:fs/promises';

/**
 * Length of one clock tick in /proc, in milliseconds. Linux reports 100 ticks per second
 * (`getconf CLK_TCK`) on the usual x86-64 and arm64 kernels.
 */
const TICK_MS = 10;

/** CPU time of the whole machine and of chosen processes at one moment, in milliseconds. */
export interface CpuSnapshot {
  at: number;
  machineBusyMs: number;
  processMs: Map<string, number>;
  /** CPU time of each named thread; part of its process's time, so not added to it again. */
  threadMs: Map<string, number>;
  /** CPU time of this process (the load generator). */
  selfMs: number;
}

/** CPU use between two snapshots. */
export interface CpuUsage {
  /** Average cores busy across the machine. */
  machineCores: number;
  /** Average cores used by each named process, and `load generator` for this process. */
  processCores: Map<string, number>;
  /** Machine-wide busy cores not explained by the named processes and the load generator. */
  otherCores: number;
  /** CPU time per completed request of each named process and thread, in microseconds. */
  perRequestUs: Map<string, number>;
}

async function machineBusyMs(): Promise<number> {
  const text = await readFile('/proc/stat', 'utf8');
  const fields = (text.split('\n')[0] ?? '').trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal ...: idle and iowait are not busy time.
  const total = fields.slice(0, 8).reduce((sum, value) => sum + value, 0);
  const idle = (fields[3] ?? 0) + (fields[4] ?? 0);
  return (total - idle) * TICK_MS;
}

/** A process, or one thread of a process (`tid`, as in `/proc/<pid>/task/<tid>`). */
export type CpuSource = number | { pid: number; tid: number };

async function processCpuMs(source: CpuSource): Promise<number> {
  const path =
    typeof source === 'number'
      ? `/proc/${source}/stat`
      : `/proc/${source.pid}/task/${source.tid}/stat`;
  // A process that has exited since its id was read counts as zero.
  const text = await readFile(path, 'utf8').catch(() => '');
  if (text === '') return 0;
  // The command name in brackets may contain spaces, so fields are counted after its end.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  // utime and stime are fields 14 and 15 of the line, so 12 and 13 after the name.
  return (Number(fields[11]) + Number(fields[12])) * TICK_MS;
}

/**
 * Reads the CPU time used so far by the machine, this process, each named group of processes
 * and each named thread. The groups must have the same process ids at both snapshots of a run.
 */
export async function snapshotCpu(
  processes: ReadonlyMap<string, readonly number[]>,
  threads: ReadonlyMap<string, CpuSource> = new Map(),
): Promise<CpuSnapshot> {
  const processMs = new Map<string, number>();
  for (const [name, pids] of processes) {
    let sum = 0;
    for (const pid of pids) sum += await processCpuMs(pid);
    processMs.set(name, sum);
  }
  const threadMs = new Map<string, number>();
  for (const [name, thread] of threads) threadMs.set(name, await processCpuMs(thread));
  const self = process.cpuUsage();
  return {
    at: performance.now(),
    machineBusyMs: await machineBusyMs(),
    processMs,
    threadMs,
    selfMs: (self.user + self.system) / 1000,
  };
}

/** Computes the CPU use between two snapshots for `requests` completed requests. */
export function cpuUsageBetween(start: CpuSnapshot, end: CpuSnapshot, requests: number): CpuUsage {
  const wallMs = end.at - start.at;
  const processCores = new Map<string, number>();
  const perRequestUs = new Map<string, number>();
  let explainedMs = end.selfMs - start.selfMs;
  processCores.set('load generator', explainedMs / wallMs);
  perRequestUs.set('load generator', (explainedMs * 1000) / requests);
  for (const [name, endMs] of end.processMs) {
    const usedMs = endMs - (start.processMs.get(name) ?? endMs);
    explainedMs += usedMs;
    processCores.set(name, usedMs / wallMs);
    perRequestUs.set(name, (usedMs * 1000) / requests);
  }
  for (const [name, endMs] of end.threadMs) {
    const usedMs = endMs - (start.threadMs.get(name) ?? endMs);
    perRequestUs.set(name, (usedMs * 1000) / requests);
  }
  const machineMs = end.machineBusyMs - start.machineBusyMs;
  return {
    machineCores: machineMs / wallMs,
    processCores,
    otherCores: Math.max(0, (machineMs - explainedMs) / wallMs),
    perRequestUs,
  };
}

/**
 * Waits until the machine is nearly idle, so other work on the shared cores does not distort
 * a run. Returns the busy cores of the last one-second sample; gives up after `maxWaitMs`.
 */
export async function waitForIdleCpu(maxBusyCores: number, maxWaitMs: number): Promise<number> {
  const deadline = Date.now() + maxWaitMs;
  let busyCores = Number.POSITIVE_INFINITY;
  while (Date.now() < deadline) {
    const before = await machineBusyMs();
    await new Promise((resolve) => setTimeout(resolve, 1000));
    busyCores = ((await machineBusyMs()) - before) / 1000;
    if (busyCores <= maxBusyCores) break;
  }
  return busyCores;
}
