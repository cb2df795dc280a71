import type { Queryable } from '../../data/database/database.js';

/** Blocks of one perimeter control in the period. */
export interface SourceTotal {
  source: string;
  blocks: number;
}

/** How often one rule blocked a request in the period, and from how many client IPs. */
export interface RuleHits {
  ruleId: string;
  source: string;
  hits: number;
  clientIps: number;
}

export interface ClientTotal {
  clientIp: string;
  blocks: number;
}

/** Rule effectiveness over a period: what each rule blocked, and who was blocked most. */
export interface WafReport {
  since: string;
  until: string;
  /** Requests blocked (or, in WAF monitor mode, reported) by any perimeter control. */
  blockedRequests: number;
  /** `block_burst` events raised in the period. */
  bursts: number;
  sources: SourceTotal[];
  /** A request that matched several rules counts once for each of them. */
  rules: RuleHits[];
  topClientIps: ClientTotal[];
}

const IN_PERIOD = `occurred_at >= $1 AND occurred_at < $2`;

/** Builds the report of perimeter blocks recorded in [since, until). */
export async function buildWafReport(
  db: Queryable,
  period: { since: Date; until: Date; topClients: number },
): Promise<WafReport> {
  const range = [period.since, period.until];
  const sources = await db.query<{ source: string; blocks: string | number }>(
    `SELECT source, count(*) AS blocks FROM security_events
      WHERE kind = 'perimeter_block' AND ${IN_PERIOD}
      GROUP BY source ORDER BY blocks DESC, source`,
    range,
  );
  const rules = await db.query<{
    ruleId: string;
    source: string;
    hits: string | number;
    clientIps: string | number;
  }>(
    `SELECT rule_id AS "ruleId", source, count(*) AS hits,
            count(DISTINCT client_ip) AS "clientIps"
       FROM security_events CROSS JOIN LATERAL unnest(rule_ids) AS rule_id
      WHERE kind = 'perimeter_block' AND ${IN_PERIOD}
      GROUP BY rule_id, source ORDER BY hits DESC, rule_id, source`,
    range,
  );
  const clients = await db.query<{ clientIp: string; blocks: string | number }>(
    `SELECT host(client_ip) AS "clientIp", count(*) AS blocks FROM security_events
      WHERE kind = 'perimeter_block' AND client_ip IS NOT NULL AND ${IN_PERIOD}
      GROUP BY client_ip ORDER BY blocks DESC, client_ip LIMIT $3`,
    [...range, period.topClients],
  );
  const bursts = await db.query<{ count: string | number }>(
    `SELECT count(*) AS count FROM security_events WHERE kind = 'block_burst' AND ${IN_PERIOD}`,
    range,
  );

  const sourceTotals = sources.rows.map((row) => ({ ...row, blocks: Number(row.blocks) }));
  return {
    since: period.since.toISOString(),
    until: period.until.toISOString(),
    blockedRequests: sourceTotals.reduce((sum, row) => sum + row.blocks, 0),
    bursts: Number(bursts.rows[0]?.count ?? 0),
    sources: sourceTotals,
    rules: rules.rows.map((row) => ({
      ...row,
      hits: Number(row.hits),
      clientIps: Number(row.clientIps),
    })),
    topClientIps: clients.rows.map((row) => ({ ...row, blocks: Number(row.blocks) })),
  };
}
