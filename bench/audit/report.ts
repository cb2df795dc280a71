/** Prints rows as a Markdown table with right-aligned numeric cells. */
export function printTable(headers: string[], rows: string[][]): void {
  const widths = headers.map((header, column) =>
    Math.max(header.length, ...rows.map((row) => (row[column] ?? '').length)),
  );
  const line = (cells: string[]) =>
    `| ${cells
      .map((cell, column) => {
        const width = widths[column] ?? 0;
        return /^[-0-9.,x%]+$/.test(cell) ? cell.padStart(width) : cell.padEnd(width);
      })
      .join(' | ')} |`;
  console.log(line(headers));
  console.log(`| ${widths.map((width) => '-'.repeat(width)).join(' | ')} |`);
  for (const row of rows) console.log(line(row));
}

/** Formats a count with thousands separators and no fraction. */
export function formatCount(value: number): string {
  return Math.round(value).toLocaleString('en-US');
}

/** Returns the median of a non-empty list. */
export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
}

/** Returns the seconds elapsed since `start`, a `process.hrtime.bigint()` value. */
export function secondsSince(start: bigint): number {
  return Number(process.hrtime.bigint() - start) / 1e9;
}
