import type { Logger } from 'pino';

import type { Database } from '../../data/database/database.js';
import { SYSTEM_ACTOR, SYSTEM_CONTEXT } from '../../http/request-context.js';
import { buildAuditRecord } from '../../monitoring/audit/audit-entry.js';
import { appendAuditRecords } from '../../monitoring/audit/audit.repository.js';
import type { GrantKind } from './access-grant.repository.js';

interface SweptGrant {
  grantId: string;
  orgId: string;
  userId: string;
  kind: GrantKind;
  role: string;
  expiresAt: Date | null;
  event: 'expired' | 'lapsed';
}

function auditAction(grant: SweptGrant): string {
  if (grant.event === 'lapsed') return 'access.jit_lapsed';
  return grant.kind === 'jit' ? 'access.jit_expired' : 'access.break_glass_expired';
}

/**
 * Records in the audit log, without waiting for any request, that grants have expired and that
 * requests left undecided for 24 hours have lapsed. Expiry itself needs no sweep: every request
 * compares `expires_at` with the database clock. The database function behind `sweep` stamps
 * each row once under its row lock, so any number of servers can sweep at the same time and
 * each event is audited exactly once, in the transaction that stamps it.
 */
export class AccessGrantSweeper {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<unknown> = Promise.resolve();
  private busy = false;

  constructor(
    private readonly db: Database,
    private readonly logger: Logger,
    private readonly intervalMs: number,
  ) {}

  /** Stamps and audits every grant due now; returns how many it recorded. */
  async sweep(): Promise<number> {
    const swept = await this.db.transaction(async (tx) => {
      const result = await tx.query<SweptGrant>(
        `SELECT grant_id AS "grantId", grant_org_id AS "orgId", grant_user_id AS "userId",
                grant_kind AS kind, grant_role AS role, grant_expires_at AS "expiresAt", event
           FROM access_grants_sweep()`,
      );
      if (result.rows.length === 0) return result.rows;
      await appendAuditRecords(
        tx,
        result.rows.map((grant) =>
          buildAuditRecord(SYSTEM_ACTOR, SYSTEM_CONTEXT, {
            action: auditAction(grant),
            orgId: grant.orgId,
            resourceType: 'access_grant',
            resourceId: grant.grantId,
            metadata: {
              userId: grant.userId,
              role: grant.role,
              expiresAt: grant.expiresAt?.toISOString() ?? null,
            },
            sensitivity: 'sensitive',
            complianceRelevant: true,
          }),
        ),
      );
      return result.rows;
    });
    for (const grant of swept) {
      this.logger.info(
        { grantId: grant.grantId, orgId: grant.orgId, kind: grant.kind, event: grant.event },
        'access grant ended',
      );
    }
    return swept.length;
  }

  /** Sweeps every interval until `stop`. */
  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => {
      // A slow sweep is not overlapped by the next one of this process.
      if (this.busy) return;
      this.busy = true;
      this.running = this.sweep()
        .catch((error: unknown) =>
          this.logger.error({ err: error }, 'failed to sweep expired access grants'),
        )
        .finally(() => {
          this.busy = false;
        });
    }, this.intervalMs);
    this.timer.unref();
  }

  /** Stops sweeping and waits for a sweep in progress. */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.running;
  }
}
