import { connect, type Socket } from 'node:net';

/** What a raw socket received before the server closed it or the wait ended. */
export interface RawResult {
  text: string;
  /** Status code of the first response line, or null when nothing arrived. */
  status: number | null;
  closedByServer: boolean;
}

/** Opens a TCP connection to `url`'s host and port. */
export function openSocket(url: string): Promise<Socket> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname, () => resolve(socket));
    socket.once('error', reject);
  });
}

/**
 * Reads from `socket` until the server closes it or `waitMs` passes, then closes it.
 * Resolves early once a complete response with `connection: close` has arrived.
 */
export function readUntilClose(socket: Socket, waitMs: number): Promise<RawResult> {
  return new Promise((resolve) => {
    let text = '';
    let done = false;
    const finish = (closedByServer: boolean) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      const match = /^HTTP\/1\.[01] (\d{3})/.exec(text);
      resolve({ text, status: match ? Number(match[1]) : null, closedByServer });
    };
    const timer = setTimeout(() => finish(false), waitMs);
    socket.on('data', (chunk: Buffer) => {
      text += chunk.toString('latin1');
    });
    socket.on('error', () => finish(true));
    socket.on('end', () => finish(true));
    socket.on('close', () => finish(true));
  });
}

/** Sends `payload` as is on a new connection and returns what came back. */
export async function sendRaw(url: string, payload: string, waitMs = 3000): Promise<RawResult> {
  const socket = await openSocket(url);
  const result = readUntilClose(socket, waitMs);
  socket.write(payload);
  return result;
}
