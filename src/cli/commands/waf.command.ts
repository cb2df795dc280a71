import { CommanderError, Option, type Command } from 'commander';

import { buildWafReport } from '../../monitoring/security-events/waf-report.service.js';
import { printJson, withDatabase } from '../cli-context.js';
import { EXIT_USAGE, parseCount, parseWhen } from './waf-period.js';
import { wafReportText } from './waf-report-text.js';

// Client IPs listed by default, and at most.
const DEFAULT_TOP_CLIENTS = 10;
const MAX_TOP_CLIENTS = 1000;

/** Makes every usage error of `command` (unknown option, invalid value) exit with code 2. */
function exitTwoOnUsageError(command: Command): Command {
  return command.exitOverride((error) => {
    if (error.exitCode === 0) throw error;
    throw new CommanderError(EXIT_USAGE, error.code, error.message);
  });
}

interface ReportOptions {
  since: Date;
  until: Date;
  top: number;
  json: boolean;
}

function reportCommand(waf: Command): Command {
  // Durations such as 7d count back from the moment the command started.
  const now = new Date();
  const parseTime = (value: string) => parseWhen(value, now);
  return waf
    .command('report')
    .description(
      'count blocked requests per rule, per source and per client IP over a period, ' +
        'for the weekly rule review',
    )
    .addOption(
      new Option(
        '--since <when>',
        'start of the period: a duration before now (30m, 24h, 7d, 2w), an ISO 8601 date ' +
          '(midnight UTC), or a date and time with an offset',
      )
        .argParser(parseTime)
        .default(parseTime('7d'), '7d'),
    )
    .addOption(
      new Option('--until <when>', 'end of the period, in the same forms as --since')
        .argParser(parseTime)
        .default(now, 'now'),
    )
    .addOption(
      new Option('--top <count>', `client IPs to list, from 1 to ${MAX_TOP_CLIENTS}`)
        .argParser((value) => parseCount(value, MAX_TOP_CLIENTS))
        .default(DEFAULT_TOP_CLIENTS),
    )
    .option('--json', 'print one JSON object', false);
}

export function registerWaf(program: Command): void {
  const waf = exitTwoOnUsageError(
    program.command('waf').description('review the requests the perimeter blocked'),
  );
  const report = exitTwoOnUsageError(reportCommand(waf));
  report.action(async (options: ReportOptions, command: Command) => {
    if (options.since.getTime() >= options.until.getTime()) {
      command.error('error: --since must be earlier than --until', {
        exitCode: EXIT_USAGE,
        code: 'commander.invalidArgument',
      });
    }
    const result = await withDatabase('mindweave waf report', (db) =>
      buildWafReport(db, { since: options.since, until: options.until, topClients: options.top }),
    );
    if (options.json) printJson(result);
    else process.stdout.write(wafReportText(result));
  });
}
