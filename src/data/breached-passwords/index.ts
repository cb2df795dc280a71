import { readFileSync } from 'node:fs';

const LIST_URL = new URL('./common-passwords.txt', import.meta.url);

let passwords: Set<string> | undefined;

function loadList(): Set<string> {
  // Read on first use, so processes that never set a password do not hold the list.
  passwords ??= new Set(
    // eslint-disable-next-line security/detect-non-literal-fs-filename -- a file of this module
    readFileSync(LIST_URL, 'utf8')
      .split('\n')
      .filter((line) => line.length > 0),
  );
  return passwords;
}

/** Checks whether `password`, compared without regard to case, is on the bundled list. */
export function isBreachedPassword(password: string): boolean {
  return loadList().has(password.toLowerCase());
}

/** Number of entries on the bundled list. */
export function breachedPasswordCount(): number {
  return loadList().size;
}
