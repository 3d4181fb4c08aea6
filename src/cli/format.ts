/** Plain-text tables, durations and timestamps for the terminal. */

/**
 * Left-aligned columns two spaces apart; the last column is not padded.
 *
 * @example
 * ```ts
 * formatTable([['ID', 'STATUS'], ['7', 'COMPLETED']]); // ['ID  STATUS', '7   COMPLETED']
 * ```
 */
export function formatTable(rows: readonly (readonly string[])[]): string[] {
  if (rows.length === 0) return [];
  const widths = rows[0].map((_, column) => Math.max(...rows.map((row) => (row[column] ?? '').length)));
  return rows.map((row) =>
    row
      .map((cell, column) => (column === row.length - 1 ? cell : cell.padEnd(widths[column])))
      .join('  ')
      .trimEnd(),
  );
}

/**
 * `850 ms`, `12.3 s`, `4m 05s`, `2h 03m`.
 *
 * @example
 * ```ts
 * formatDuration(12_345); // '12.3 s'
 * ```
 */
export function formatDuration(durationMs: number | null | undefined): string {
  if (durationMs === null || durationMs === undefined || durationMs < 0) return '-';
  if (durationMs < 1000) return `${Math.round(durationMs)} ms`;
  if (durationMs < 60_000) return `${(durationMs / 1000).toFixed(1)} s`;
  const totalSeconds = Math.floor(durationMs / 1000);
  if (totalSeconds < 3600) {
    return `${Math.floor(totalSeconds / 60)}m ${String(totalSeconds % 60).padStart(2, '0')}s`;
  }
  return `${Math.floor(totalSeconds / 3600)}h ${String(Math.floor((totalSeconds % 3600) / 60)).padStart(2, '0')}m`;
}

/**
 * @example
 * ```ts
 * formatTimestamp(0); // '1970-01-01T00:00:00.000Z'
 * ```
 */
export function formatTimestamp(ms: number): string {
  const date = new Date(ms);
  return ms < 0 || Number.isNaN(date.getTime()) ? '-' : date.toISOString();
}
