import { Pool } from 'undici';

/** Options of one fixed-rate run. */
export interface OpenLoopOptions {
  url: string;
  headers: Record<string, string>;
  /** Request bodies, sent in turn. */
  bodies: readonly string[];
  /** Requests per second. */
  rate: number;
  durationMs: number;
  /** Keep-alive connections the client may open; requests wait in the client when all are busy. */
  connections: number;
  /** Time allowed for one response, in milliseconds. */
  timeoutMs: number;
}

/** Results of one fixed-rate run; latencies are in milliseconds and sorted ascending. */
export interface OpenLoopResult {
  scheduled: number;
  succeeded: number;
  failed: number;
  /** Status codes other than 200, with their counts, and `error` for transport failures. */
  failures: Map<string, number>;
  /** From the moment a request is handed to the HTTP client to the last byte of the response. */
  latenciesMs: Float64Array;
  /** How late each request was handed to the HTTP client relative to its scheduled time. */
  scheduleLagMs: Float64Array;
  /** Successful responses per second over the time from the first send to the last response. */
  throughput: number;
}

/**
 * Sends requests at a fixed rate, request `i` at `start + i / rate`, whether or not earlier
 * responses have arrived (an open loop). A slow server therefore cannot slow the sender down
 * and hide its own latency, which a closed loop with a fixed number of connections does.
 * Latency is taken from the moment each request is handed to the client, so it includes any
 * wait for a free connection; the schedule lag is reported separately to show whether the
 * sender kept to the schedule.
 */
export async function runOpenLoop(options: OpenLoopOptions): Promise<OpenLoopResult> {
  const target = new URL(options.url);
  const pool = new Pool(target.origin, {
    connections: options.connections,
    pipelining: 1,
    keepAliveTimeout: 30_000,
    headersTimeout: options.timeoutMs,
    bodyTimeout: options.timeoutMs,
  });
  const total = Math.round((options.rate * options.durationMs) / 1000);
  const intervalMs = 1000 / options.rate;
  const latencies = new Float64Array(total).fill(Number.NaN);
  const lags = new Float64Array(total);
  const failures = new Map<string, number>();
  const countFailure = (reason: string) => failures.set(reason, (failures.get(reason) ?? 0) + 1);
  let succeeded = 0;
  let lastResponseAt = 0;
  const inFlight = new Set<Promise<void>>();

  const send = async (index: number, dispatchedAt: number): Promise<void> => {
    try {
      const response = await pool.request({
        path: target.pathname,
        method: 'POST',
        headers: options.headers,
        body: options.bodies[index % options.bodies.length],
      });
      await response.body.text();
      const finishedAt = performance.now();
      if (response.statusCode === 200) {
        latencies[index] = finishedAt - dispatchedAt;
        succeeded++;
        lastResponseAt = finishedAt;
      } else {
        countFailure(String(response.statusCode));
      }
    } catch {
      countFailure('error');
    }
  };

  const start = performance.now();
  let next = 0;
  await new Promise<void>((resolve) => {
    const tick = () => {
      const now = performance.now();
      while (next < total && start + next * intervalMs <= now) {
        lags[next] = now - (start + next * intervalMs);
        const request = send(next, now);
        inFlight.add(request);
        void request.finally(() => inFlight.delete(request));
        next++;
      }
      if (next >= total) {
        resolve();
        return;
      }
      // Node timers fire at 1 ms granularity at best, so a tick may send two or more requests.
      setTimeout(tick, Math.max(0, start + next * intervalMs - performance.now()));
    };
    tick();
  });

  // A request still waiting for a free connection is not yet under the response timeout, so
  // the wait for the last responses has its own deadline, after which the pool is destroyed.
  const drainMs = options.timeoutMs + 5000;
  let drainTimer: NodeJS.Timeout | undefined;
  const drained = await Promise.race([
    Promise.allSettled([...inFlight]).then(() => true),
    new Promise<boolean>((resolve) => {
      drainTimer = setTimeout(() => resolve(false), drainMs);
    }),
  ]);
  clearTimeout(drainTimer);
  if (drained) await pool.close();
  else {
    await pool.destroy();
    await Promise.allSettled([...inFlight]);
  }

  const measured = latencies.filter((value) => !Number.isNaN(value)).sort();
  const elapsedSeconds = (lastResponseAt - start) / 1000;
  return {
    scheduled: total,
    succeeded,
    failed: total - succeeded,
    failures,
    latenciesMs: measured,
    scheduleLagMs: lags.sort(),
    throughput: elapsedSeconds > 0 ? succeeded / elapsedSeconds : 0,
  };
}

/** Returns the nearest-rank percentile `p` (0 to 100) of ascending `sorted` values. */
export function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[Math.min(rank, sorted.length) - 1] ?? Number.NaN;
}
