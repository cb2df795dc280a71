import type { WafReport } from '../../monitoring/security-events/waf-report.service.js';

const column = (text: string, width: number) => text.padEnd(width);
const number = (value: number, width: number) => String(value).padStart(width);

/** Renders the report as aligned text for a terminal. */
export function wafReportText(report: WafReport): string {
  const lines = [
    `WAF report from ${report.since} to ${report.until}`,
    `blocked requests: ${report.blockedRequests}, bursts: ${report.bursts}`,
  ];
  if (report.blockedRequests === 0) {
    lines.push('', 'no blocked requests in this period');
    return `${lines.join('\n')}\n`;
  }

  lines.push('', 'blocks by source');
  for (const row of report.sources)
    lines.push(`  ${column(row.source, 16)}${number(row.blocks, 10)}`);

  lines.push(
    '',
    'hits by rule',
    `  ${column('rule', 32)}${column('source', 16)}      hits  client IPs`,
  );
  for (const row of report.rules) {
    lines.push(
      `  ${column(row.ruleId, 32)}${column(row.source, 16)}${number(row.hits, 10)}` +
        `${number(row.clientIps, 12)}`,
    );
  }

  lines.push('', 'top client IPs');
  for (const row of report.topClientIps) {
    lines.push(`  ${column(row.clientIp, 40)}${number(row.blocks, 10)}`);
  }
  return `${lines.join('\n')}\n`;
}
