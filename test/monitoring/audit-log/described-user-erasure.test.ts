import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { KeyHierarchy } from '../../../src/data/crypto/key-hierarchy.js';
import {
  openDataProtection,
  sweepDueDeletions,
  type DataProtection,
} from '../../../src/data/key-store/data-protection.js';
import {
  complianceKeyWrapping,
  PersonalDataSealer,
} from '../../../src/data/personal-data/personal-data-sealer.js';
import { scheduleSubjectErasure } from '../../../src/data/personal-data/subject-erasure.js';
import { AuditChainWorker } from '../../../src/monitoring/audit/audit-chain-worker.js';
import { STORED_ENTRY_COLUMNS } from '../../../src/monitoring/audit/audit-entry.reader.js';
import { auditEntryView } from '../../../src/monitoring/audit/audit-entry.view.js';
import type { AuditRecord } from '../../../src/monitoring/audit/audit-entry.js';
import { appendAuditRecords, MAIN_LOG } from '../../../src/monitoring/audit/audit.repository.js';
import type { StoredAuditEntry } from '../../../src/monitoring/audit/chain-verifier.js';
import {
  call,
  createUser,
  enrollTotp,
  SecretRecorder,
  signIn,
} from '../../application/identity-api.js';
import { keyHierarchyAt } from '../../support/key-hierarchy-at.js';
import { startMailTestServer } from '../../support/mail-test-server.js';
import { tokenIn, type SmtpCapture } from '../../support/smtp-capture.js';
import type { TestServer } from '../../support/test-server.js';

const run = promisify(execFile);
const DAY_MS = 24 * 60 * 60 * 1000;
const silent = pino({ level: 'silent' });
const noAudit = () => Promise.resolve();

let t: TestServer;
let smtp: SmtpCapture;
let keys: DataProtection;
let worker: AuditChainWorker;
const recorder = new SecretRecorder();

/** The bootstrap owner, erased below. */
const owner = { id: '', email: '', name: 'Olivia Owner' };
/** The administrator who invites, never erased. */
let admin: { id: string; email: string };
/** The invited user, erased below. */
const invitee = { id: '', email: 'yara.invitee@example.com', name: 'Yara Invitee' };

/** Runs the CLI as its own process against the test server's database and data folder. */
async function cli(...args: string[]): Promise<{ code: number; stdout: string }> {
  try {
    const { stdout } = await run(
      process.execPath,
      ['--import', 'tsx', 'src/cli/main.ts', ...args],
      {
        env: {
          ...process.env,
          DATABASE_URL: t.config.DATABASE_URL,
          MINDWEAVE_DATA_DIR: t.config.MINDWEAVE_DATA_DIR,
          LOG_LEVEL: 'warn',
        },
      },
    );
    return { code: 0, stdout };
  } catch (error) {
    const failed = error as { code: number; stdout: string };
    return { code: failed.code, stdout: failed.stdout };
  }
}

/** Returns the subject id that a sealed `pd1.<subject>.<body>` value names. */
function sealedSubject(sealed: string): string {
  return Buffer.from(sealed.split('.')[1] ?? '', 'base64url').toString('utf8');
}

/** Creates a sealer with an empty cache and its own wrapping, so no cached key opens a value. */
function freshSealer(): PersonalDataSealer {
  const sealer = new PersonalDataSealer();
  sealer.useWrapping(complianceKeyWrapping(keys.hierarchy));
  return sealer;
}

async function storedEntries(): Promise<StoredAuditEntry[]> {
  const { rows } = await t.owner.query<StoredAuditEntry>(
    `SELECT ${STORED_ENTRY_COLUMNS} FROM audit_logs ORDER BY seq`,
  );
  return rows;
}

/** Opens every sealed string in the old and new values of every stored entry (null if it fails). */
async function openedStoredValues(): Promise<{ subject: string; opened: string | null }[]> {
  const sealer = freshSealer();
  const opened: { subject: string; opened: string | null }[] = [];
  for (const entry of await storedEntries()) {
    for (const [column, values] of [
      ['old_values', entry.oldValues],
      ['new_values', entry.newValues],
    ] as const) {
      if (values === null || typeof values !== 'object' || Array.isArray(values)) continue;
      for (const [name, value] of Object.entries(values)) {
        if (typeof value !== 'string' || !value.startsWith('pd1.')) continue;
        opened.push({
          subject: sealedSubject(value),
          opened: await sealer.unseal(t.owner, value, `${column}.${name}`),
        });
      }
    }
  }
  return opened;
}

/** Returns the old and new values of every entry as the audit API shows them, as JSON text. */
async function viewedValues(): Promise<string[]> {
  const texts: string[] = [];
  for (const entry of await storedEntries()) {
    const view = await auditEntryView(t.owner, entry);
    texts.push(JSON.stringify([view.oldValues, view.newValues]));
  }
  return texts;
}

/** Builds an entry written by the administrator about the invitee, with her email and name. */
function profileChange(): AuditRecord {
  return {
    actorType: 'user',
    actorId: admin.id,
    actorEmail: admin.email,
    actorIp: '198.51.100.4',
    actorUserAgent: 'described-user-test',
    orgId: t.boot.orgId,
    projectId: null,
    requestId: null,
    sessionId: null,
    action: 'user.profile_updated',
    resourceType: 'user',
    resourceId: invitee.id,
    oldValues: { email: 'old.address@example.com', name: 'Yara Old' },
    newValues: { email: invitee.email, name: invitee.name },
    metadata: null,
    sensitivity: 'sensitive',
    complianceRelevant: true,
  };
}

/** Creates a key hierarchy over the test database whose clock is `now`, with an empty cache. */
function hierarchyAt(now: Date): KeyHierarchy {
  return keyHierarchyAt(keys, t.owner, now);
}

function schedule(userId: string, now: Date) {
  return scheduleSubjectErasure(t.owner, keys.hierarchy, keys.store, `user:${userId}`, {
    actor: 'test',
    waitingDays: 7,
    now,
    audit: noAudit,
  });
}

beforeAll(async () => {
  ({ t, smtp } = await startMailTestServer());
  keys = await openDataProtection(t.config, t.owner, silent, 'test');
  worker = new AuditChainWorker();
  owner.id = t.boot.adminUserId;
  owner.email = t.boot.adminEmail;

  const created = await createUser(t, recorder, { role: 'admin', orgId: t.boot.orgId });
  admin = { id: created.id, email: created.email };
  const login = await signIn(t, recorder, created.email, created.password);
  expect(login.status).toBe(200);
  const adminToken = (await enrollTotp(t, recorder, login.body.token as string)).token;

  const invited = await call(
    t,
    recorder,
    'POST',
    `/api/v1/organizations/${t.boot.orgId}/invitations`,
    { token: adminToken, body: { email: invitee.email, role: 'member' } },
  );
  expect(invited.status).toBe(201);
  // expect.poll runs only inside a test, so the invitation mail is awaited by hand.
  for (let tries = 0; smtp.messagesTo(invitee.email).length === 0 && tries < 100; tries++) {
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  expect(smtp.messagesTo(invitee.email)).toHaveLength(1);
  const mailed = tokenIn(smtp.messagesTo(invitee.email).at(-1)!, 'mw_invite_');
  recorder.add(mailed);
  const password = 'Invited-Member-Copper-58!';
  recorder.add(password);
  const accepted = await call(t, recorder, 'POST', '/api/v1/auth/invitations/accept', {
    body: { token: mailed, name: invitee.name, password },
  });
  expect(accepted.status).toBe(201);
  invitee.id = accepted.body.userId as string;

  // One entry chained in this thread and one in the worker thread.
  await appendAuditRecords(t.owner, [profileChange()]);
  await appendAuditRecords(t.owner, [profileChange()], MAIN_LOG, worker.chain);
}, 120_000);

afterAll(async () => {
  await worker?.close();
  await keys?.close();
  await t?.stop();
  await smtp?.stop();
});

describe('erasure of the user an audit entry describes', { timeout: 120_000 }, () => {
  it('seals user values for that user', async () => {
    const { rows } = await t.owner.query<{
      action: string;
      actorEmail: string | null;
      newValues: { email?: string; name?: string } | null;
    }>(
      `SELECT action, actor_email AS "actorEmail", new_values AS "newValues" FROM audit_logs
        WHERE action IN ('user.create', 'user.profile_updated') ORDER BY seq`,
    );
    const [created, ...changes] = rows;
    // The bootstrap writes the owner's email with no actor.
    expect(created?.newValues?.email).toMatch(/^pd1\./);
    expect(sealedSubject(created?.newValues?.email ?? '')).toBe(`user:${owner.id}`);
    expect(changes).toHaveLength(2);
    for (const change of changes) {
      expect(sealedSubject(change.newValues?.email ?? '')).toBe(`user:${invitee.id}`);
      expect(sealedSubject(change.newValues?.name ?? '')).toBe(`user:${invitee.id}`);
      expect(sealedSubject(change.actorEmail ?? '')).toBe(`user:${admin.id}`);
    }

    const opened = (await openedStoredValues()).map((value) => value.opened);
    expect(opened).toContain(owner.email);
    expect(opened).toContain(invitee.email);
    expect(opened).toContain(invitee.name);
    const viewed = (await viewedValues()).join('\n');
    expect(viewed).toContain(owner.email);
    expect(viewed).toContain(invitee.name);
  });

  it('hides erased users; log still verifies', async () => {
    const before = await cli('audit', 'verify', '--json');
    expect(before.code).toBe(0);

    const now = new Date();
    await schedule(owner.id, now);
    await schedule(invitee.id, now);
    const late = new Date(now.getTime() + 8 * DAY_MS);
    const swept = await sweepDueDeletions(hierarchyAt(late), silent, {
      subjectErasure: { db: t.owner, audit: noAudit },
      clock: () => late,
    });
    const erased = swept.subjects.map((subject) => subject.subjectId);
    expect(erased).toContain(`user:${owner.id}`);
    expect(erased).toContain(`user:${invitee.id}`);

    const erasedValues = [owner.email, owner.name, invitee.email, invitee.name, 'Yara Old'];
    const opened = await openedStoredValues();
    for (const value of opened) {
      expect(erasedValues).not.toContain(value.opened);
    }
    for (const value of opened.filter(
      (item) => item.subject === `user:${owner.id}` || item.subject === `user:${invitee.id}`,
    )) {
      expect(value.opened).toBeNull();
    }
    const viewed = (await viewedValues()).join('\n');
    for (const value of erasedValues) expect(viewed).not.toContain(value);
    const dump = await t.owner.query<{ row: string }>(
      'SELECT row_to_json(a)::text AS row FROM audit_logs a',
    );
    for (const value of erasedValues) {
      expect(dump.rows.some((row) => row.row.includes(value))).toBe(false);
    }

    // The administrator's own fields of the entries about the invitee still open.
    const sealer = freshSealer();
    const { rows } = await t.owner.query<{ actorEmail: string; actorIp: string }>(
      `SELECT actor_email AS "actorEmail", actor_ip AS "actorIp" FROM audit_logs
        WHERE action = 'user.profile_updated' ORDER BY seq`,
    );
    expect(rows).toHaveLength(2);
    for (const row of rows) {
      expect(await sealer.unseal(t.owner, row.actorEmail, 'actor_email')).toBe(admin.email);
      expect(await sealer.unseal(t.owner, row.actorIp, 'actor_ip')).toBe('198.51.100.4');
    }

    const after = await cli('audit', 'verify', '--json');
    expect(after.code).toBe(0);
    expect((JSON.parse(after.stdout) as { ok: boolean }).ok).toBe(true);
  });
});
