import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { openSocket, readUntilClose, sendRaw } from '../request-limits/raw-http.js';
import { startTestServer, type TestServer } from '../../support/test-server.js';

const USER_AGENT = 'unparsed-bodies-test';
const TEN_MB = 10 * 1024 * 1024;
const LOGIN = '/api/v1/auth/login';
const BOUNDARY = 'mindweave-test-boundary';

let t: TestServer;

beforeAll(async () => {
  t = await startTestServer({ env: { WAF_MODE: 'block', WAF_PARANOIA_LEVEL: '1' } });
});

afterAll(async () => {
  await t?.stop();
});

interface Reply {
  status: number;
  code: string | undefined;
  text: string;
}

async function post(
  path: string,
  contentType: string | null,
  body: string | Uint8Array,
): Promise<Reply> {
  const headers: Record<string, string> = { 'user-agent': USER_AGENT };
  if (contentType !== null) headers['content-type'] = contentType;
  const response = await fetch(`${t.url}${path}`, { method: 'POST', headers, body });
  const text = await response.text();
  let code: string | undefined;
  try {
    code = (JSON.parse(text) as { code?: string }).code;
  } catch {
    code = undefined;
  }
  return { status: response.status, code, text };
}

function multipart(field: string, value: string): string {
  return (
    `--${BOUNDARY}\r\nContent-Disposition: form-data; name="${field}"\r\n\r\n` +
    `${value}\r\n--${BOUNDARY}--\r\n`
  );
}

const MULTIPART = `multipart/form-data; boundary=${BOUNDARY}`;

/** Body shapes no route accepts, each with an attack and a benign payload. */
const SHAPES: Array<{ label: string; contentType: string; attack: string; benign: string }> = [
  {
    label: 'form-encoded SQL injection',
    contentType: 'application/x-www-form-urlencoded',
    attack: `email=${encodeURIComponent("' OR 1=1 UNION SELECT password FROM users--")}`,
    benign: 'email=alice%40example.com&password=correct-horse',
  },
  {
    label: 'XML cross-site scripting',
    contentType: 'application/xml',
    attack:
      '<?xml version="1.0"?><login><email><![CDATA[<script>alert(1)</script>]]></email></login>',
    benign: '<?xml version="1.0"?><login><email>alice@example.com</email></login>',
  },
  {
    label: 'multipart SQL injection',
    contentType: MULTIPART,
    attack: multipart('email', "1' UNION SELECT username, password FROM users--"),
    benign: multipart('email', 'alice@example.com'),
  },
  {
    label: 'multipart cross-site scripting',
    contentType: MULTIPART,
    attack: multipart('name', '<img src=x onerror=alert(document.cookie)>'),
    benign: multipart('name', 'Alice Example'),
  },
];

describe('bodies of media types no route accepts', () => {
  it.each(SHAPES)('$label on an admin route gets 403', async (shape) => {
    const reply = await post(LOGIN, shape.contentType, shape.attack);
    expect(reply.status, reply.text).toBe(403);
    expect(reply.code).toBe('waf_blocked');
  });

  it.each(SHAPES)('benign $label shape on an admin route gets 415', async (shape) => {
    const reply = await post(LOGIN, shape.contentType, shape.benign);
    expect(reply.status, reply.text).toBe(415);
    expect(reply.code).toBe('unsupported_media_type');
  });

  it('form attack on a prompt route gets 403', async () => {
    const body = `q=${encodeURIComponent('<script>alert(1)</script>')}`;
    const reply = await post('/v1/messages', 'application/x-www-form-urlencoded', body);
    expect(reply.status, reply.text).toBe(403);
    // A gateway route responds in the Anthropic shape, which the SDK reads as a permission error.
    expect(JSON.parse(reply.text)).toMatchObject({
      type: 'error',
      error: { type: 'permission_error' },
    });
  });

  it('body without Content-Type gets 403 or 415', async () => {
    const host = new URL(t.url).host;
    const rawPost = (body: string) =>
      sendRaw(
        t.url,
        `POST ${LOGIN} HTTP/1.1\r\nHost: ${host}\r\nUser-Agent: ${USER_AGENT}\r\n` +
          `Connection: close\r\nContent-Length: ${body.length}\r\n\r\n${body}`,
      );
    const attack = await rawPost("1' UNION SELECT password FROM users--");
    expect(attack.status, attack.text).toBe(403);
    expect(attack.text).toContain('"code":"waf_blocked"');
    const benign = await rawPost('hello');
    expect(benign.status, benign.text).toBe(415);
    expect(benign.text).toContain('"code":"unsupported_media_type"');
  });

  it('back-ticked words are not a command', async () => {
    const form = 'application/x-www-form-urlencoded';
    const identifiers = await post(LOGIN, form, `email=${encodeURIComponent('`foo`;`bar`')}`);
    expect(identifiers.status, identifiers.text).toBe(415);
    const command = await post(LOGIN, form, `email=${encodeURIComponent('`cat /etc/passwd`')}`);
    expect(command.status, command.text).toBe(403);
    expect(command.code).toBe('waf_blocked');
  });

  it('JSON route still parses JSON', async () => {
    const reply = await post(
      LOGIN,
      'application/json',
      JSON.stringify({ email: 'nobody@example.com', password: 'Wrong-Passw0rd!' }),
    );
    expect(reply.status, reply.text).toBe(401);
  });

  it('JSON attack is still blocked', async () => {
    const reply = await post(
      LOGIN,
      'application/json',
      JSON.stringify({ email: "' OR 1=1 UNION SELECT password FROM users--", password: 'x' }),
    );
    expect(reply.status, reply.text).toBe(403);
    expect(reply.code).toBe('waf_blocked');
  });
});

describe('responses to benign bodies', () => {
  let off: TestServer;

  beforeAll(async () => {
    // With the WAF off no catch-all parser is registered, so Fastify responds as it did before.
    off = await startTestServer({ env: { WAF_MODE: 'off' } });
  });

  afterAll(async () => {
    await off?.stop();
  });

  async function answer(base: string, path: string, contentType: string, body: string) {
    const response = await fetch(`${base}${path}`, {
      method: 'POST',
      headers: { 'user-agent': USER_AGENT, 'content-type': contentType, 'x-api-key': 'mw_x' },
      body,
    });
    const text = await response.text();
    return { status: response.status, body: text.replace(/"requestId":"[^"]*"/, '') };
  }

  it.each(SHAPES)('$label shape matches the server without the parser', async (shape) => {
    for (const path of [LOGIN, '/v1/messages', '/v1/chat/completions', '/post']) {
      const withParser = await answer(t.url, path, shape.contentType, shape.benign);
      const without = await answer(off.url, path, shape.contentType, shape.benign);
      expect(withParser.status, path).toBe(path === '/post' ? 404 : 415);
      expect(withParser, path).toEqual(without);
    }
  });
});

describe('unknown paths', () => {
  it.each(SHAPES)('$label gets 403', async (shape) => {
    const reply = await post('/post', shape.contentType, shape.attack);
    expect(reply.status, reply.text).toBe(403);
    expect(reply.code).toBe('waf_blocked');
  });

  it.each(SHAPES)('benign $label shape gets 404', async (shape) => {
    const reply = await post('/post', shape.contentType, shape.benign);
    expect(reply.status, reply.text).toBe(404);
    expect(reply.code).toBe('not_found');
  });

  it('JSON attack gets 403 and benign JSON 404', async () => {
    const attack = await post('/', 'application/json', '{"q":"<script>alert(1)</script>"}');
    expect(attack.status, attack.text).toBe(403);
    const benign = await post('/', 'application/json', '{"q":"hello"}');
    expect(benign.status, benign.text).toBe(404);
  });

  it('raw request with a form attack gets 403', async () => {
    const body = "id=1'%20or%20'1'%3D'1";
    const result = await sendRaw(
      t.url,
      `POST /post HTTP/1.1\r\nHost: ${new URL(t.url).host}\r\nUser-Agent: ${USER_AGENT}\r\n` +
        'Content-Type: application/x-www-form-urlencoded\r\nConnection: close\r\n' +
        `Content-Length: ${body.length}\r\n\r\n${body}`,
    );
    expect(result.status).toBe(403);
    expect(result.text).toContain('waf_blocked');
  });
});

describe('odd content types', () => {
  const cases: Array<[string, string | null, string | Uint8Array]> = [
    ['multipart without boundary', 'multipart/form-data', 'a=1'],
    ['multipart with empty boundary', 'multipart/form-data; boundary=', '--\r\n\r\n--'],
    ['multipart with unterminated part', MULTIPART, `--${BOUNDARY}\r\nContent-Disposition`],
    ['form with UTF-7 charset', 'application/x-www-form-urlencoded; charset=utf-7', 'a=+ADw-'],
    ['form with repeated charset', 'application/x-www-form-urlencoded; charset=a; charset=b', 'a'],
    ['XML with UTF-16 charset', 'application/xml; charset=utf-16', '<a>\u0000b</a>'],
    ['unknown media type', 'application/x-mindweave-unknown', 'a=1'],
    ['invalid media type', 'not a media type', 'a=1'],
    ['empty body with form type', 'application/x-www-form-urlencoded', ''],
    ['empty body without type', null, ''],
    ['invalid UTF-8', 'application/x-www-form-urlencoded', Buffer.from([0x61, 0x3d, 0xff, 0xc0])],
  ];

  it.each(cases)('%s gets no 5xx on a route or an unknown path', async (_label, type, body) => {
    for (const path of [LOGIN, '/v1/messages', '/post']) {
      const reply = await post(path, type, body);
      expect(reply.status, `${path}: ${reply.text}`).toBeGreaterThanOrEqual(400);
      expect(reply.status, `${path}: ${reply.text}`).toBeLessThan(500);
    }
  });
});

describe('body size limit', () => {
  /** Declares a body of `length` bytes and sends only the first `sent` bytes of it. */
  async function partialUpload(path: string, contentType: string, length: number, sent: number) {
    const socket = await openSocket(t.url);
    const result = readUntilClose(socket, 5000);
    socket.write(
      `POST ${path} HTTP/1.1\r\nHost: ${new URL(t.url).host}\r\nUser-Agent: ${USER_AGENT}\r\n` +
        `Content-Type: ${contentType}\r\nContent-Length: ${length}\r\n\r\n`,
    );
    socket.write('a='.padEnd(sent, 'x'));
    return result;
  }

  it.each([
    ['prompt route', '/v1/messages'],
    ['unknown path', '/post'],
  ])('form body over 10 MB on a %s gets 413 early', async (_label, path) => {
    const result = await partialUpload(
      path,
      'application/x-www-form-urlencoded',
      TEN_MB + 1,
      64 * 1024,
    );
    expect(result.status).toBe(413);
    expect(result.closedByServer).toBe(true);
  });

  it('XML body over the admin limit gets 413 early', async () => {
    const result = await partialUpload(LOGIN, 'application/xml', 1024 * 1024 + 1, 1024);
    expect(result.status).toBe(413);
    expect(result.text).toContain('"code":"payload_too_large"');
  });

  it('chunked form body over the admin limit gets 413', async () => {
    const socket = await openSocket(t.url);
    const result = readUntilClose(socket, 5000);
    socket.write(
      `POST ${LOGIN} HTTP/1.1\r\nHost: ${new URL(t.url).host}\r\nUser-Agent: ${USER_AGENT}\r\n` +
        'Content-Type: application/x-www-form-urlencoded\r\nTransfer-Encoding: chunked\r\n\r\n',
    );
    const chunk = 'x'.repeat(64 * 1024);
    // 20 chunks of 64 KiB pass the 1 MB admin limit; the server must respond before the last.
    for (let i = 0; i < 20 && !socket.destroyed; i++) {
      socket.write(`${chunk.length.toString(16)}\r\n${chunk}\r\n`);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    const outcome = await result;
    expect(outcome.status).toBe(413);
  });
});
