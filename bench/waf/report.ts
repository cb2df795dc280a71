import type { BenchCase } from './corpus.js';
import type { Outcome } from './http-client.js';

/** Detection and false-positive counts of one family at one paranoia level. */
export interface FamilyScore {
  family: string;
  attacks: number;
  detected: number;
  benign: number;
  falsePositives: number;
  /** Detected attacks and blocked benign cases that the HTTP layer rejected before the WAF ran. */
  detectedByHttp: number;
  falsePositivesByHttp: number;
  /** Attacks, and detected ones, whose body no route accepts (see unread-bodies.ts). */
  attacksWithUnreadBody: number;
  detectedWithUnreadBody: number;
  /** Ids of missed attacks and blocked benign cases, for tuning. */
  missed: string[];
  blockedBenign: string[];
}

function emptyScore(family: string): FamilyScore {
  return {
    family,
    attacks: 0,
    detected: 0,
    benign: 0,
    falsePositives: 0,
    detectedByHttp: 0,
    falsePositivesByHttp: 0,
    attacksWithUnreadBody: 0,
    detectedWithUnreadBody: 0,
    missed: [],
    blockedBenign: [],
  };
}

/**
 * Scores cases at `paranoia`. A case counts as blocked when the WAF or the HTTP layer in front
 * of it rejected it. Attacks written for a higher paranoia level are left out, because rules
 * of that level do not run; benign cases always count. Attacks listed in `unreadBodyIds`
 * are also counted in `attacksWithUnreadBody` and `detectedWithUnreadBody`.
 */
export function scoreCases(
  cases: readonly BenchCase[],
  outcomes: ReadonlyMap<string, Outcome>,
  paranoia: number,
  unreadBodyIds: ReadonlySet<string> = new Set(),
): FamilyScore[] {
  const scores = new Map<string, FamilyScore>();
  for (const item of cases) {
    if (item.attack && item.paranoia > paranoia) continue;
    let score = scores.get(item.family);
    if (score === undefined) {
      score = emptyScore(item.family);
      scores.set(item.family, score);
    }
    const outcome = outcomes.get(item.id) ?? 'passed';
    const wasBlocked = outcome !== 'passed';
    const byHttp = outcome === 'http' ? 1 : 0;
    if (item.attack) {
      const unread = unreadBodyIds.has(item.id) ? 1 : 0;
      score.attacks++;
      score.attacksWithUnreadBody += unread;
      if (wasBlocked) {
        score.detected++;
        score.detectedByHttp += byHttp;
        score.detectedWithUnreadBody += unread;
      } else score.missed.push(item.id);
    } else {
      score.benign++;
      if (wasBlocked) {
        score.falsePositives++;
        score.falsePositivesByHttp += byHttp;
        score.blockedBenign.push(item.id);
      }
    }
  }
  return [...scores.values()].sort((a, b) => a.family.localeCompare(b.family));
}

/** Sums family scores into one total row named `family`. */
export function totalScore(family: string, scores: readonly FamilyScore[]): FamilyScore {
  const total = emptyScore(family);
  for (const score of scores) {
    total.attacks += score.attacks;
    total.detected += score.detected;
    total.benign += score.benign;
    total.falsePositives += score.falsePositives;
    total.detectedByHttp += score.detectedByHttp;
    total.falsePositivesByHttp += score.falsePositivesByHttp;
    total.attacksWithUnreadBody += score.attacksWithUnreadBody;
    total.detectedWithUnreadBody += score.detectedWithUnreadBody;
    total.missed.push(...score.missed);
    total.blockedBenign.push(...score.blockedBenign);
  }
  return total;
}

function percent(part: number, whole: number): string {
  return whole === 0 ? '   -  ' : `${((100 * part) / whole).toFixed(1).padStart(5)}%`;
}

/** Detection among the attacks without a body that no route accepts, as `detected/attacks`. */
export function readDetection(score: FamilyScore): { detected: number; attacks: number } {
  return {
    detected: score.detected - score.detectedWithUnreadBody,
    attacks: score.attacks - score.attacksWithUnreadBody,
  };
}

/**
 * Formats scores as a fixed-width table. The `http` columns count the blocked cases that the
 * HTTP layer rejected before the WAF ran. The `parsed` columns repeat the detection for the
 * attacks without a body that no route accepts (form, XML, multipart, untyped). In the
 * in-process replay every body is parsed and `http` stays 0.
 */
export function formatTable(paranoia: number, scores: readonly FamilyScore[]): string {
  const lines = [
    `paranoia level ${paranoia}`,
    'family                      detected/attacks   rate  http    blocked/benign   rate  http   parsed: detected   rate',
  ];
  for (const score of scores) {
    const detected = `${score.detected}/${score.attacks}`.padStart(16);
    const blocked = `${score.falsePositives}/${score.benign}`.padStart(16);
    const read = readDetection(score);
    lines.push(
      `${score.family.padEnd(28)}${detected} ${percent(score.detected, score.attacks)} ${String(score.detectedByHttp).padStart(5)} ` +
        `${blocked} ${percent(score.falsePositives, score.benign)} ${String(score.falsePositivesByHttp).padStart(5)} ` +
        `${`${read.detected}/${read.attacks}`.padStart(18)} ${percent(read.detected, read.attacks)}`,
    );
  }
  return lines.join('\n');
}
