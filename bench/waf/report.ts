import type { BenchCase } from './corpus.js';

/** Detection and false-positive counts of one family at one paranoia level. */
export interface FamilyScore {
  family: string;
  attacks: number;
  detected: number;
  benign: number;
  falsePositives: number;
  /** Ids of missed attacks and blocked benign cases, for tuning. */
  missed: string[];
  blockedBenign: string[];
}

/**
 * Scores cases at `paranoia`. Attacks written for a higher paranoia level are left out,
 * because rules of that level do not run; benign cases always count.
 */
export function scoreCases(
  cases: readonly BenchCase[],
  blocked: ReadonlyMap<string, boolean>,
  paranoia: number,
): FamilyScore[] {
  const scores = new Map<string, FamilyScore>();
  for (const item of cases) {
    if (item.attack && item.paranoia > paranoia) continue;
    let score = scores.get(item.family);
    if (score === undefined) {
      score = {
        family: item.family,
        attacks: 0,
        detected: 0,
        benign: 0,
        falsePositives: 0,
        missed: [],
        blockedBenign: [],
      };
      scores.set(item.family, score);
    }
    const wasBlocked = blocked.get(item.id) === true;
    if (item.attack) {
      score.attacks++;
      if (wasBlocked) score.detected++;
      else score.missed.push(item.id);
    } else {
      score.benign++;
      if (wasBlocked) {
        score.falsePositives++;
        score.blockedBenign.push(item.id);
      }
    }
  }
  return [...scores.values()].sort((a, b) => a.family.localeCompare(b.family));
}

/** Sums family scores into one total row named `family`. */
export function totalScore(family: string, scores: readonly FamilyScore[]): FamilyScore {
  const total: FamilyScore = {
    family,
    attacks: 0,
    detected: 0,
    benign: 0,
    falsePositives: 0,
    missed: [],
    blockedBenign: [],
  };
  for (const score of scores) {
    total.attacks += score.attacks;
    total.detected += score.detected;
    total.benign += score.benign;
    total.falsePositives += score.falsePositives;
  }
  return total;
}

function percent(part: number, whole: number): string {
  return whole === 0 ? '   -  ' : `${((100 * part) / whole).toFixed(1).padStart(5)}%`;
}

/** Formats scores as a fixed-width table. */
export function formatTable(paranoia: number, scores: readonly FamilyScore[]): string {
  const lines = [
    `paranoia level ${paranoia}`,
    'family                      detected/attacks   rate    blocked/benign   rate',
  ];
  for (const score of scores) {
    lines.push(
      `${score.family.padEnd(28)}${`${score.detected}/${score.attacks}`.padStart(16)} ${percent(score.detected, score.attacks)} ${`${score.falsePositives}/${score.benign}`.padStart(16)} ${percent(score.falsePositives, score.benign)}`,
    );
  }
  return lines.join('\n');
}
