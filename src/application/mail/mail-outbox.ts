import type { MailLogger, MailMessage, MailTransport } from './mail-transport.js';

/**
 * Sends mail in the background, so that a request does not wait for the SMTP server and its
 * response time does not reveal whether a mail was sent. A failed delivery is logged with the
 * purpose and row id, and not retried.
 */
export class MailOutbox {
  private readonly inFlight = new Set<Promise<void>>();

  constructor(
    readonly transport: MailTransport,
    private readonly logger: MailLogger,
  ) {}

  /** Starts sending `message` and returns at once. */
  enqueue(message: MailMessage, requestId: string | null): void {
    const sending = this.transport
      .send(message)
      .then(() => {
        this.logger.info(
          { purpose: message.purpose, referenceId: message.referenceId, requestId },
          'mail sent',
        );
      })
      .catch((error: unknown) => {
        this.logger.error(
          { purpose: message.purpose, referenceId: message.referenceId, requestId, err: error },
          'mail delivery failed',
        );
      })
      .finally(() => this.inFlight.delete(sending));
    this.inFlight.add(sending);
  }

  /** Waits for every mail started so far; the server calls it before it stops. */
  async drain(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.all([...this.inFlight]);
  }

  /** Waits for queued mail, then closes the transport. */
  async close(): Promise<void> {
    await this.drain();
    await this.transport.close();
  }
}
