import { symlink } from 'node:fs/promises';
import { join } from 'node:path';

import { runCommand } from '../gateway/processes.js';
import { prepareBuild } from '../gateway/setup.js';

/** Time limit of each build step, generous so that a slow or busy machine still finishes. */
const BUILD_TIMEOUT_MS = 5 * 60_000;

/**
 * Builds MindWeave from `source` and returns the build folder: `worktree` builds the
 * repository itself, `head` the committed tree of HEAD, and any other value is a commit or
 * branch whose tree is exported with `git archive` into `workDir`. Exporting a commit lets a
 * run measure a tree that builds while later commits or edits in progress do not.
 */
export async function buildSource(
  repoRoot: string,
  workDir: string,
  source: string,
): Promise<{ buildDir: string; commit: string }> {
  const commit = (
    await runCommand(
      'git rev-parse',
      'git',
      [
        'rev-parse',
        '--short',
        source === 'worktree' ? 'HEAD' : source === 'head' ? 'HEAD' : `${source}^{commit}`,
      ],
      {
        cwd: repoRoot,
        timeoutMs: 10_000,
      },
    )
  ).trim();
  if (source === 'head' || source === 'worktree') {
    return { buildDir: await prepareBuild(repoRoot, workDir, source), commit };
  }
  const buildDir = join(workDir, 'mindweave');
  const archive = join(workDir, 'source.tar');
  await runCommand('git archive', 'git', ['archive', '--format=tar', '-o', archive, commit], {
    cwd: repoRoot,
    timeoutMs: 60_000,
  });
  await runCommand('mkdir', 'mkdir', ['-p', buildDir], { timeoutMs: 10_000 });
  await runCommand('tar', 'tar', ['-xf', archive, '-C', buildDir], { timeoutMs: 60_000 });
  await symlink(join(repoRoot, 'node_modules'), join(buildDir, 'node_modules'), 'dir');
  await runCommand('npm run build', 'npm', ['run', 'build'], {
    cwd: buildDir,
    timeoutMs: BUILD_TIMEOUT_MS,
  });
  return { buildDir, commit };
}
