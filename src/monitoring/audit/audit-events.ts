/** Listener called with the log size after each append. The size is a hint: it may arrive before commit. */
export type AppendListener = (logId: string, size: number) => void;

const listeners = new Set<AppendListener>();

/** Subscribes to appends in this process; returns the unsubscribe function. */
export function onAuditAppended(listener: AppendListener): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

/** Notifies the listeners that `logId` now contains `size` entries. */
export function auditAppended(logId: string, size: number): void {
  for (const listener of listeners) listener(logId, size);
}
