import type { FastifyRequest } from 'fastify';

import { TtlLookupCache } from '../data/cache/ttl-lookup-cache.js';
import type { Database } from '../data/database/database.js';
import { inTenant } from '../data/database/tenant-scope.js';
import { AppError } from '../http/errors.js';
import type { Actor, RequestContext } from '../http/request-context.js';
import { buildAuditRecord } from '../monitoring/audit/audit-entry.js';
import { appendAuditRecords } from '../monitoring/audit/audit.repository.js';
import { anyRangeContains, storedRange, type AddressRange } from './address-range.js';
import { clientAddress, parseClientAddress, type IpAddress } from './client-address.js';
import {
  listAllowlistEntries,
  replaceAllowlistEntries,
  type AllowlistEntry,
  type AllowlistSurface,
} from './ip-allowlist.repository.js';

/** Reads the ranges of one surface of an organization from the database. */
export async function readAllowedRanges(
  db: Database,
  orgId: string,
  surface: AllowlistSurface,
): Promise<AddressRange[]> {
  const entries = await inTenant(db, orgId, (tx) => listAllowlistEntries(tx, orgId, surface));
  return entries.map((entry) => storedRange(entry.cidr));
}

/**
 * Returns whether `address` may use a surface guarded by `ranges`. An empty list restricts nothing;
 * with entries, a missing address (one that could not be parsed) is denied.
 */
export function addressAllowed(
  ranges: readonly AddressRange[],
  address: IpAddress | null,
): boolean {
  if (ranges.length === 0) return true;
  return address !== null && anyRangeContains(ranges, address);
}

/**
 * Rejects an admin request to an organization whose admin allowlist does not contain the
 * client address. The list is read on every request, so a change applies at once everywhere.
 */
export async function enforceAdminAllowlist(
  db: Database,
  request: FastifyRequest,
  orgId: string,
): Promise<void> {
  const ranges = await readAllowedRanges(db, orgId, 'admin');
  if (addressAllowed(ranges, clientAddress(request))) return;
  request.log.warn({ orgId }, 'admin request from an address outside the allowlist');
  throw new AppError('ip_not_allowed');
}

/** Options of the API-key allowlist cache; the TTL bounds how long a change takes to apply. */
export interface ApiKeyAllowlistOptions {
  cacheTtlMs?: number;
  cacheMaxEntries?: number;
}

/**
 * The API-key allowlists of every organization, cached per process for at most one second
 * (as API keys are), so a gateway call costs no extra query in the common case and a change
 * reaches every server within that second. Calls that miss while the list of their organization
 * is being read wait for that read.
 */
export class ApiKeyAllowlists {
  private readonly cache: TtlLookupCache<AddressRange[]>;

  constructor(
    private readonly db: Database,
    options: ApiKeyAllowlistOptions = {},
  ) {
    this.cache = new TtlLookupCache(options.cacheTtlMs ?? 1000, options.cacheMaxEntries ?? 10_000);
  }

  /** Returns whether a gateway call of `orgId` from `address` is allowed. */
  async allows(orgId: string, address: IpAddress | null, now = Date.now()): Promise<boolean> {
    const ranges = await this.cache.get(
      orgId,
      () => readAllowedRanges(this.db, orgId, 'api_key'),
      now,
    );
    return addressAllowed(ranges, address);
  }
}

/** The actor, request and organization of an allowlist change. */
export interface AllowlistScope {
  actor: Actor & { type: 'user' };
  context: RequestContext;
  orgId: string;
}

/**
 * Replaces one surface's list and audits the change in the same transaction. A new admin list
 * that would not contain the caller's own address is rejected, so an admin cannot lock
 * themselves (and possibly everyone) out with one request.
 */
export async function replaceAllowlist(
  db: Database,
  scope: AllowlistScope,
  surface: AllowlistSurface,
  entries: { cidr: string; description: string | null }[],
): Promise<AllowlistEntry[]> {
  if (surface === 'admin' && entries.length > 0) {
    const ranges = entries.map((entry) => storedRange(entry.cidr));
    const caller = parseClientAddress(scope.context.ip);
    if (!caller || !anyRangeContains(ranges, caller)) {
      throw new AppError('validation_failed', undefined, [
        {
          field: 'entries',
          message:
            `Your address ${scope.context.ip ?? '(unknown)'} is not in the new list, so ` +
            'this change would lock you out; add a range that contains it',
        },
      ]);
    }
  }
  return inTenant(db, scope.orgId, async (tx) => {
    const before = await listAllowlistEntries(tx, scope.orgId, surface);
    const after = await replaceAllowlistEntries(tx, {
      orgId: scope.orgId,
      surface,
      entries,
      createdBy: scope.actor.id,
    });
    await appendAuditRecords(tx, [
      buildAuditRecord(scope.actor, scope.context, {
        action: 'ip_allowlist.update',
        orgId: scope.orgId,
        resourceType: 'organization',
        resourceId: scope.orgId,
        oldValues: { surface, cidrs: before.map((entry) => entry.cidr) },
        newValues: { surface, cidrs: after.map((entry) => entry.cidr) },
        sensitivity: 'sensitive',
      }),
    ]);
    return after;
  });
}
