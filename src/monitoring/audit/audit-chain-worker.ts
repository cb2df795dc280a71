import { Worker } from 'node:worker_threads';

import type { ChainBatch, ChainedBatch } from './audit-chain.js';
import type { ChainReply, ChainRequest } from './audit-chain.worker.js';

interface Pending {
  resolve: (result: ChainedBatch) => void;
  reject: (error: Error) => void;
}

/**
 * Starts the worker script next to this module: compiled JavaScript in a build, or TypeScript
 * through tsx when the sources run under tsx or vitest.
 */
function startWorker(): Worker {
  if (!import.meta.url.endsWith('.ts')) {
    return new Worker(new URL('./audit-chain.worker.js', import.meta.url));
  }
  const script = new URL('./audit-chain.worker.ts', import.meta.url).href;
  return new Worker(
    `import('tsx/esm/api').then((tsx) => tsx.tsImport(${JSON.stringify(script)}, ${JSON.stringify(script)}));`,
    { eval: true },
  );
}

/**
 * Seals and hashes audit batches in one worker thread, so the encoding, AES-GCM sealing and
 * SHA-256 hashing of large batches do not hold up requests on the main thread. Batches are
 * chained one at a time in the order they are sent. Each batch comes from a transaction that
 * holds the log head's row lock, so the sequence numbers and hash links are those the caller
 * read under that lock, exactly as when chaining in the main thread.
 *
 * A worker that crashes rejects its pending batches (the caller's transaction then rolls back)
 * and is started again for the next batch.
 */
export class AuditChainWorker {
  #worker: Worker | null = null;
  readonly #pending = new Map<number, Pending>();
  #nextId = 1;
  #closed = false;

  /** Chains `batch` in the worker thread; same result as `chainRecords(batch)`. */
  readonly chain = (batch: ChainBatch): Promise<ChainedBatch> => {
    if (this.#closed) return Promise.reject(new Error('the audit chain worker is closed'));
    const worker = this.#started();
    const id = this.#nextId++;
    return new Promise<ChainedBatch>((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      // Referenced only while a batch is out, so an idle worker never keeps the process alive.
      if (this.#pending.size === 1) worker.ref();
      worker.postMessage({ id, batch } satisfies ChainRequest);
    });
  };

  /** Stops the worker; batches still pending are rejected. */
  async close(): Promise<void> {
    this.#closed = true;
    const worker = this.#worker;
    this.#worker = null;
    if (worker) await worker.terminate();
    this.#failAll(new Error('the audit chain worker was closed'));
  }

  #started(): Worker {
    if (this.#worker) return this.#worker;
    const worker = startWorker();
    worker.unref();
    worker.on('message', (reply: ChainReply) => this.#settle(worker, reply));
    worker.on('error', (error) => this.#stopped(worker, error));
    worker.on('exit', (code) => {
      this.#stopped(worker, new Error(`the audit chain worker exited with code ${code}`));
    });
    this.#worker = worker;
    return worker;
  }

  #settle(worker: Worker, reply: ChainReply): void {
    const pending = this.#pending.get(reply.id);
    if (!pending) return;
    this.#pending.delete(reply.id);
    if (this.#pending.size === 0) worker.unref();
    if (reply.ok) {
      pending.resolve(reply.result);
    } else {
      const error = new Error(reply.message);
      error.name = reply.name;
      pending.reject(error);
    }
  }

  // NOTE: no test crashes the worker, so this restart path has only been read, not run.
  #stopped(worker: Worker, error: Error): void {
    if (this.#worker !== worker) return;
    this.#worker = null;
    this.#failAll(error);
  }

  #failAll(error: Error): void {
    const pending = [...this.#pending.values()];
    this.#pending.clear();
    for (const entry of pending) entry.reject(error);
  }
}
