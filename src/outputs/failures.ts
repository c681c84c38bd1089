/**
 * `failures.jsonl`: one JSON object per failed file, `{"uri","code","message"}`, one per line. Messages
 * (and URIs, which a manifest may give as presigned URLs) are redacted like log lines.
 */

import type { FailureCode } from '../util/failure-codes.ts';
import { jsonPrintable } from '../util/printable.ts';
import { redactText, redactUrls } from '../util/redact.ts';

export interface FailureRow {
  uri: string;
  code?: FailureCode;
  message?: string;
}

export function failureLine(row: FailureRow): string {
  // C1 and bidi characters as \u escapes too: `report` prints these lines to a terminal.
  return `${jsonPrintable(JSON.stringify({ uri: redactUrls(row.uri), code: row.code ?? 'internal', message: redactText(row.message ?? '') }))}\n`;
}
