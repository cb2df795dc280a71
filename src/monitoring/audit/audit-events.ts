/** Listener told the log size after each append; it is a hint and may run before commit. */
export type AppendListener = (logId: string, size: number) => void;

const listeners = new Set<AppendListener>();

/** Subscribes to appends in this process; returns the unsubscribe function. */
export function onAuditAppended(listener: AppendListener): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

/** Tells the listeners that `logId` now holds `size` entries. */
export function auditAppended(logId: string, size: number): void {
  for (const listener of listeners) listener(logId, size);
}
