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
