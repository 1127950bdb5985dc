/**
 * A CSV file of samples: `--dataset csv:FILE`. One sample per row, comma-separated, numeric feature
 * columns and one label column (any column; the last by default). Quoted cells ("a, b", "say ""hi""")
 * and CRLF line ends are read as RFC 4180 has them; blank lines are skipped.
 *
 * Header: `true`, `false`, or `auto` (the default): the first row is a header when a feature cell of it
 * is not a number, or its label cell is not a number while the next row's is (so a file without a
 * header whose labels are words is still read as data).
 *
 * The samples are returned as they are: the caller standardizes them with the training split's
 * statistics (dataset.ts), and labels become classes as labels.ts says.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { ConfigError } from '../core/errors.js';
import type { Pool } from './types.js';
import { classIndices } from './labels.js';

export const CSV_HEADER_MODES = ['auto', 'true', 'false'] as const;
export type CsvHeaderMode = (typeof CSV_HEADER_MODES)[number];

export interface CsvOptions {
  /** The label column: its name in the header, or its 0-based index. @default the last column */
  label?: string | number;
  /** Whether the first row names the columns. @default 'auto' */
  header?: CsvHeaderMode;
}

interface Row {
  /** Line of the file where the row starts, from 1. */
  line: number;
  cells: string[];
}

const [COMMA, LF, CR] = [44, 10, 13];

/** The longest row read (characters): a file without line breaks (a binary, /dev/zero) is not samples. */
export const MAX_CSV_LINE = 1 << 20;
/** The largest CSV file read (bytes): beyond it the text would not fit in one string. */
export const MAX_CSV_BYTES = 2 ** 29 - 24;

/** The rows of a CSV text, one at a time (a large file is never held as strings all at once). */
export function* csvRows(text: string, file: string): Generator<Row> {
  let i = text.charCodeAt(0) === 0xfeff ? 1 : 0; // a byte-order mark is not part of the first cell
  let line = 1;
  const n = text.length;
  while (i < n) {
    const start = line;
    const rowStart = i;
    const cells: string[] = [];
    let cell = '';
    let quotedRow = false;
    for (;;) {
      if (text[i] === '"') {
        // a quoted cell: up to the closing quote, "" is one quote, commas and line breaks are text
        quotedRow = true;
        const openedAt = line;
        i += 1;
        for (;;) {
          if (i >= n)
            throw new ConfigError(
              `${file} line ${openedAt}: a quoted cell is never closed (a '"' without its closing '"')`,
            );
          const ch = text[i]!;
          if (ch === '"') {
            if (text[i + 1] === '"') {
              cell += '"';
              i += 2;
              continue;
            }
            i += 1;
            break;
          }
          if (ch === '\n') line += 1;
          cell += ch;
          i += 1;
        }
      }
      // the rest of an unquoted cell (or what follows a closing quote) up to a comma or a line end
      const from = i;
      for (let ch = text.charCodeAt(i); i < n && ch !== COMMA && ch !== LF && ch !== CR; ch = text.charCodeAt(++i));
      cell += text.slice(from, i);
      cells.push(cell);
      cell = '';
      if (i < n && text[i] === ',') {
        i += 1;
        continue;
      }
      if (text[i] === '\r') i += 1;
      if (text[i] === '\n') i += 1;
      line += 1;
      break;
    }
    if (i - rowStart > MAX_CSV_LINE)
      throw new ConfigError(`${file} line ${start}: longer than ${MAX_CSV_LINE} characters: not a CSV file of samples`);
    if (cells.length === 1 && cells[0]!.trim() === '' && !quotedRow) continue; // a blank line
    yield { line: start, cells };
  }
}

/** A decimal number as a CSV cell writes one (Number() alone would also read 0x10, 0b1, 0o7). */
const DECIMAL = /^\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*$/;
const isNumber = (s: string) => DECIMAL.test(s) && Number.isFinite(Number(s));

/** Where the label is, from the option and the first rows. */
function labelColumn(label: CsvOptions['label'], first: Row, header: boolean | undefined, file: string): number {
  const width = first.cells.length;
  const names = first.cells.map((c) => c.trim());
  if (label === undefined) return width - 1;
  const text = String(label).trim();
  // Before the header is known, a number is an index: the first row may be data holding that number.
  const byName = header === true || (header === undefined && !/^\d+$/.test(text));
  if (byName && names.includes(text)) {
    const same = names.flatMap((name, i) => (name === text ? [i] : []));
    if (same.length > 1)
      throw new ConfigError(
        `--csv-label '${text}': ${file} line ${first.line} has ${same.length} columns of that name (${same.join(' and ')}): column names must be unique`,
      );
    return names.indexOf(text);
  }
  if (/^\d+$/.test(text)) {
    const index = Number(text);
    if (index >= width)
      throw new ConfigError(`--csv-label ${text}: ${file} has ${width} columns (indices 0 to ${width - 1})`);
    return index;
  }
  if (header === false)
    throw new ConfigError(
      `--csv-label '${text}' is a column name, but --csv-header false says ${file} has no header (give the column's 0-based index)`,
    );
  throw new ConfigError(
    `--csv-label '${text}': ${file} line ${first.line} has no column of that name (columns: ${names.join(', ')})`,
  );
}

/** Fails unless `file` is a regular file small enough to read as text (never a device or a FIFO). */
export function checkCsvFile(file: string): void {
  if (!existsSync(file)) throw new ConfigError(`--dataset csv:${file}: no such file`);
  const stats = statSync(file);
  if (stats.isDirectory()) throw new ConfigError(`--dataset csv:${file}: is a folder, not a CSV file`);
  if (!stats.isFile())
    throw new ConfigError(`--dataset csv:${file}: not a regular file (a device, FIFO or socket cannot be a CSV file)`);
  if (stats.size > MAX_CSV_BYTES)
    throw new ConfigError(
      `--dataset csv:${file}: ${stats.size} bytes, more than the ${MAX_CSV_BYTES} a CSV file may have here: write it as idx: files`,
    );
}

/** Reads a CSV file into a pool of raw (unstandardized) features, one row per sample. */
export function loadCsv(file: string, opts: CsvOptions = {}): Pool & { classNames: string[]; featureNames: string[] } {
  checkCsvFile(file);
  const rows = csvRows(readFileSync(file, 'utf8'), file);
  const first = rows.next();
  if (first.done) throw new ConfigError(`${file} line 1: empty file: no rows`);
  const second = rows.next();
  const head = first.value;
  const width = head.cells.length;
  if (width < 2)
    throw new ConfigError(
      `${file} line ${head.line}: only one column: a CSV needs feature columns and a label column, separated by commas`,
    );

  const mode = opts.header ?? 'auto';
  let labelAt = labelColumn(opts.label, head, mode === 'auto' ? undefined : mode === 'true', file);
  let header = mode === 'true';
  if (mode === 'auto') {
    const named = opts.label !== undefined && !/^\d+$/.test(String(opts.label).trim());
    const featureText = head.cells.some((c, i) => i !== labelAt && !isNumber(c));
    const labelText =
      !isNumber(head.cells[labelAt]!) &&
      !second.done &&
      second.value.cells.length > labelAt &&
      isNumber(second.value.cells[labelAt]!);
    header = named || featureText || labelText;
  }
  if (header) labelAt = labelColumn(opts.label, head, true, file);
  if (header && opts.label !== undefined) {
    const names = head.cells.map((c) => c.trim());
    const twice = names.findIndex((name, i) => names.indexOf(name) !== i);
    if (twice !== -1)
      throw new ConfigError(
        `${file} line ${head.line}: column '${names[twice]}' appears twice (columns ${names.indexOf(names[twice]!)} and ${twice}): column names must be unique with --csv-label`,
      );
  }
  const columnNames = header ? head.cells.map((c) => c.trim()) : head.cells.map((_, i) => `column ${i}`);
  const column = (i: number) => (header ? `column '${columnNames[i]}' (${i})` : `column ${i}`);

  const features = width - 1;
  let x = new Float32Array(Math.max(1024, features * 256));
  const labels: string[] = [];
  const read = (row: Row) => {
    if (row.cells.length !== width)
      throw new ConfigError(`${file} line ${row.line}: ragged row: expected ${width} columns, got ${row.cells.length}`);
    if (x.length < (labels.length + 1) * features) {
      const grown = new Float32Array(x.length * 2);
      grown.set(x);
      x = grown;
    }
    let at = labels.length * features;
    row.cells.forEach((cell, i) => {
      if (i === labelAt) return;
      const value = Number(cell); // '' and '  ' are 0 to Number: told apart below
      if (value === 0 && cell.trim() === '')
        throw new ConfigError(`${file} line ${row.line}, ${column(i)}: empty cell (missing values are not supported)`);
      if (!Number.isFinite(value) || !DECIMAL.test(cell))
        throw new ConfigError(`${file} line ${row.line}, ${column(i)}: '${cell}' is not a number`);
      x[at++] = value;
    });
    const label = row.cells[labelAt]!.trim();
    if (label === '') throw new ConfigError(`${file} line ${row.line}, ${column(labelAt)}: empty label`);
    labels.push(label);
  };
  if (!header) read(head);
  if (!second.done) read(second.value);
  for (const row of rows) read(row);
  if (labels.length === 0) throw new ConfigError(`${file} line ${head.line + 1}: no data rows after the header`);
  const { y, classNames } = classIndices(labels, `${file}, label ${column(labelAt)}`);
  return {
    imageShape: [1, features, 1],
    numClasses: classNames.length,
    classNames,
    featureNames: columnNames.filter((_, i) => i !== labelAt),
    x: x.slice(0, labels.length * features),
    y,
  };
}
