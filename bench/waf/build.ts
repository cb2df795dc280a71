import { symlink } from 'node:fs/promises';
import { join } from 'node:path';

import { runCommand } from '../gateway/processes.js';

/** Time limit of each build step, generous so that a slow or busy machine still finishes. */
const BUILD_TIMEOUT_MS = 5 * 60_000;

/** A build folder, the commit it was built from, and the type errors accepted on the way. */
export interface Build {
  buildDir: string;
  commit: string;
  typeErrors: string[];
}

/**
 * Builds MindWeave from `source` and returns the build folder: `worktree` builds the
 * repository itself, `head` the committed tree of HEAD, and any other value is a commit or
 * branch whose tree is exported with `git archive` into `workDir`. With `allowTypeErrors`, a
 * build whose only failures are TypeScript type errors is used anyway (tsc still writes the
 * JavaScript), and the errors are returned so the caller can print them next to the results.
 */
export async function buildSource(
  repoRoot: string,
  workDir: string,
  source: string,
  allowTypeErrors: boolean,
): Promise<Build> {
  const ref = source === 'worktree' || source === 'head' ? 'HEAD' : source;
  const commit = (
    await runCommand('git rev-parse', 'git', ['rev-parse', '--short', `${ref}^{commit}`], {
      cwd: repoRoot,
      timeoutMs: 10_000,
    })
  ).trim();
  let buildDir = repoRoot;
  if (source !== 'worktree') {
    buildDir = join(workDir, 'mindweave');
    const archive = join(workDir, 'source.tar');
    await runCommand('git archive', 'git', ['archive', '--format=tar', '-o', archive, commit], {
      cwd: repoRoot,
      timeoutMs: 60_000,
    });
    await runCommand('mkdir', 'mkdir', ['-p', buildDir], { timeoutMs: 10_000 });
    await runCommand('tar', 'tar', ['-xf', archive, '-C', buildDir], { timeoutMs: 60_000 });
    await symlink(join(repoRoot, 'node_modules'), join(buildDir, 'node_modules'), 'dir');
  }
  try {
    await runCommand('npm run build', 'npm', ['run', 'build'], {
      cwd: buildDir,
      timeoutMs: BUILD_TIMEOUT_MS,
    });
    return { buildDir, commit, typeErrors: [] };
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    const typeErrors = message.split('\n').filter((line) => /error TS\d+/.test(line));
    if (!allowTypeErrors || typeErrors.length === 0) throw error;
    return { buildDir, commit, typeErrors };
  }
}
