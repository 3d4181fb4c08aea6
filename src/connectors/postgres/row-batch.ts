/** A bounded buffer of rows waiting to be sent, each with the record it came from (for error messages). */
import type { ColumnValue } from './text-values.ts';

export class RowBatch<T> {
  records: T[] = [];
  rows: (readonly ColumnValue[])[] = [];

  get size(): number {
    return this.rows.length;
  }

  add(record: T, row: readonly ColumnValue[]): void {
    this.records.push(record);
    this.rows.push(row);
  }

  /** Takes out the first `count` rows (all by default) as a batch of their own. */
  take(count = this.rows.length): RowBatch<T> {
    const taken = new RowBatch<T>();
    if (count >= this.rows.length) {
      taken.records = this.records;
      taken.rows = this.rows;
      this.records = [];
      this.rows = [];
    } else {
      taken.records = this.records.splice(0, count);
      taken.rows = this.rows.splice(0, count);
    }
    return taken;
  }
}
