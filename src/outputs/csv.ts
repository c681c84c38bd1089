/**
 * `cost.csv`: one row per file, no total row (so a column sums to the report's total without
 * double counting). RFC 4180 quoting; LF line endings, which every CSV reader accepts and shell tools
 * prefer.
 */
import { formatMicros } from '../cost/price.ts';
import { printable } from '../util/printable.ts';
import type { FileRow } from './report.ts';

export const COST_CSV_COLUMNS = [
  'uri',
  'status',
  'duration_s',
  'chunks',
  'requests',
  'input_text_tokens',
  'input_audio_tokens',
  'input_image_tokens',
  'input_video_tokens',
  'output_text_tokens',
  'output_audio_tokens',
  'output_reasoning_tokens',
  'cost_amount',
  'cost_micros',
  'currency',
  'priced',
] as const;

/**
 * Quoted when it holds a comma, quote or edge whitespace; inner quotes doubled. Control and bidi characters
 * (an object's name is a stranger's) are written as visible escapes (util/printable.ts): a CSV shown in a
 * terminal must not drive it.
 */
export function csvField(value: string | number | boolean | null | undefined): string {
  if (value === null || value === undefined) return '';
  const s = printable(String(value));
  return /[",\r\n]|^\s|\s$/u.test(s) ? `"${s.replace(/"/gu, '""')}"` : s;
}

export function costCsvHeader(): string {
  return `${COST_CSV_COLUMNS.join(',')}\n`;
}

export function costCsvRow(row: FileRow): string {
  const u = row.usage;
  const hasCost = row.costMicros !== undefined && !(row.priced === false && (row.currency ?? null) === null);
  const fields = [
    row.uri,
    row.status,
    row.durationS === undefined ? '' : Math.round(row.durationS * 1000) / 1000,
    row.chunks ?? '',
    row.requests ?? '',
    u?.input.text ?? '',
    u?.input.audio ?? '',
    u?.input.image ?? '',
    u?.input.video ?? '',
    u?.output.text ?? '',
    u?.output.audio ?? '',
    u?.output.reasoning ?? '',
    hasCost ? formatMicros(row.costMicros!) : '',
    hasCost ? row.costMicros : '',
    row.currency ?? '',
    row.priced === undefined ? '' : row.priced,
  ];
  return `${fields.map(csvField).join(',')}\n`;
}
