/**
 * `failures.jsonl`: one JSON object per failed file, `{"uri","code","message"}`, one per line. Messages
 * (and URIs, which a manifest may give as presigned URLs) are redacted like log lines.
 */
import { redactText, redactUrls } from '../util/redact.ts';

export interface FailureRow {
  uri: string;
  code?: string;
  message?: string;
  /** rows with a status other than `failed` (succeeded, skipped, not_run) are left out */
  status?: string;
}

export function failureLine(row: FailureRow): string {
  return `${JSON.stringify({ uri: redactUrls(row.uri), code: row.code ?? 'unknown', message: redactText(row.message ?? '') })}\n`;
}

export function renderFailuresJsonl(rows: Iterable<FailureRow>): string {
  let out = '';
  for (const r of rows) if (r.status === undefined || r.status === 'failed') out += failureLine(r);
  return out;
}
