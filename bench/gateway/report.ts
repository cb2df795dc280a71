import type { ClosedLoopResult } from './closed-loop.js';
import type { CpuUsage } from './cpu-usage.js';
import { percentile, type OpenLoopResult } from './open-loop.js';

/** One row of the results: which server was called, and how. */
export interface Measurement {
  target: string;
  openLoop: OpenLoopResult;
  closedLoop: ClosedLoopResult | null;
  /** CPU use during the measured open-loop run. */
  cpu: CpuUsage;
  /** Busy cores of the machine in the second before the warm-up. */
  idleBusyCores: number;
}

const ms = (value: number) => (Number.isNaN(value) ? 'n/a' : value.toFixed(2));

function failures(result: OpenLoopResult): string {
  if (result.failed === 0) return '0';
  const reasons = [...result.failures].map(([reason, count]) => `${count}× ${reason}`);
  return `${result.failed} (${reasons.join(', ')})`;
}

/** Formats the fixed-rate results as a Markdown table, latencies in milliseconds. */
export function openLoopTable(rows: readonly Measurement[], rate: number): string {
  const lines = [
    `| target (${rate} req/s, open loop) | p50 ms | p90 ms | p99 ms | max ms | req/s | failed | schedule lag p99 ms |`,
    '| --- | --: | --: | --: | --: | --: | --: | --: |',
  ];
  for (const { target, openLoop: result } of rows) {
    const sorted = result.latenciesMs;
    lines.push(
      `| ${target} | ${ms(percentile(sorted, 50))} | ${ms(percentile(sorted, 90))} | ` +
        `${ms(percentile(sorted, 99))} | ${ms(percentile(sorted, 100))} | ` +
        `${result.throughput.toFixed(0)} | ${failures(result)} | ` +
        `${ms(percentile(result.scheduleLagMs, 99))} |`,
    );
  }
  return lines.join('\n');
}

/** Formats MindWeave's added latency: each MindWeave row minus the direct row. */
export function addedLatencyTable(direct: Measurement, rows: readonly Measurement[]): string {
  const lines = ['| target | added p50 ms | added p99 ms |', '| --- | --: | --: |'];
  const base = direct.openLoop.latenciesMs;
  for (const row of rows) {
    const sorted = row.openLoop.latenciesMs;
    lines.push(
      `| ${row.target} | ${ms(percentile(sorted, 50) - percentile(base, 50))} | ` +
        `${ms(percentile(sorted, 99) - percentile(base, 99))} |`,
    );
  }
  return lines.join('\n');
}

/** Formats the closed-loop results of the rows that have one. */
export function closedLoopTable(rows: readonly Measurement[], connections: number): string {
  const lines = [
    `| target (${connections} connections, closed loop) | req/s | p50 ms | p90 ms | p99 ms | max ms | non-2xx or errors |`,
    '| --- | --: | --: | --: | --: | --: | --: |',
  ];
  for (const { target, closedLoop: result } of rows) {
    if (!result) continue;
    lines.push(
      `| ${target} | ${result.throughput.toFixed(0)} | ${result.p50} | ${result.p90} | ` +
        `${result.p99} | ${result.max} | ${result.non2xx + result.errors} |`,
    );
  }
  return lines.join('\n');
}

/** Formats the CPU cost per request and the machine's other load during the open-loop runs. */
export function cpuTable(rows: readonly Measurement[]): string {
  const lines = [
    '| target | MindWeave µs/req | of it main thread µs/req | PostgreSQL µs/req | upstream µs/req | load generator µs/req | other processes, cores | busy cores before |',
    '| --- | --: | --: | --: | --: | --: | --: | --: |',
  ];
  const us = (value: number | undefined) => (value === undefined ? '-' : value.toFixed(0));
  for (const { target, cpu, idleBusyCores } of rows) {
    lines.push(
      `| ${target} | ${us(cpu.perRequestUs.get('MindWeave'))} | ` +
        `${us(cpu.perRequestUs.get('MindWeave main thread'))} | ` +
        `${us(cpu.perRequestUs.get('PostgreSQL'))} | ` +
        `${us(cpu.perRequestUs.get('upstream'))} | ${us(cpu.perRequestUs.get('load generator'))} | ` +
        `${cpu.otherCores.toFixed(2)} | ${idleBusyCores.toFixed(2)} |`,
    );
  }
  return lines.join('\n');
}
