import { getPriority, setPriority } from 'node:os';
import { parentPort } from 'node:worker_threads';

import { chainRecords, type ChainBatch } from './audit-chain.js';

/** A batch to chain, tagged so the reply can be matched to its request. */
export interface ChainRequest {
  id: number;
  batch: ChainBatch;
}

/** The rows of a chained batch, or why it failed. */
export type ChainReply =
  | { id: number; ok: true; result: Awaited<ReturnType<typeof chainRecords>> }
  | { id: number; ok: false; name: string; message: string };

const port = parentPort;
if (!port) throw new Error('audit-chain.worker must run in a worker thread');

// The worker chains the gateway's call records in one burst per batch (every 50 ms under load),
// and no request waits for it. At a lower scheduling priority that burst yields the cores to the
// request thread, the database and the provider connection. Linux keeps a nice value per
// thread, so setpriority with process id 0 changes only this thread. Other systems would apply
// it to the whole process, so the priority is left alone there. Nice values run from -20
// (highest priority) to 19.
const NICE_STEP = 10;
const LOWEST_NICE = 19;
if (process.platform === 'linux') {
  try {
    setPriority(0, Math.min(LOWEST_NICE, getPriority(0) + NICE_STEP));
  } catch {
    // A container without the permission keeps the default priority; lowering normally needs none.
  }
}

port.on('message', (request: ChainRequest) => {
  chainRecords(request.batch).then(
    (result) => port.postMessage({ id: request.id, ok: true, result } satisfies ChainReply),
    (error: unknown) => {
      const failure = error instanceof Error ? error : new Error(String(error));
      port.postMessage({
        id: request.id,
        ok: false,
        name: failure.name,
        message: failure.message,
      } satisfies ChainReply);
    },
  );
});
