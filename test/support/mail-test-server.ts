import { SmtpCapture } from './smtp-capture.js';
import { startTestServer, type TestServer } from './test-server.js';

/** Test server whose mail goes to an SMTP capture on 127.0.0.1. */
export interface MailTestServer {
  t: TestServer;
  smtp: SmtpCapture;
}

/**
 * Starts an SMTP capture and a test server that sends its mail there, with links under
 * https://console.example.com. Stops the capture again if the server fails to start.
 */
export async function startMailTestServer(): Promise<MailTestServer> {
  const smtp = new SmtpCapture();
  const port = await smtp.start();
  try {
    const t = await startTestServer({
      env: {
        SMTP_URL: `smtp://127.0.0.1:${port}`,
        SMTP_TLS: 'none',
        MAIL_LINK_BASE_URL: 'https://console.example.com',
      },
    });
    return { t, smtp };
  } catch (error) {
    await smtp.stop();
    throw error;
  }
}
