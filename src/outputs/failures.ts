/** `failures.jsonl`: one JSON object per failed file, `{"uri","code","message"}`, one per line. */
export interface FailureRow {
  uri: string;
  code?: string;
  message?: string;
  /** rows with a status other than `failed` (succeeded, skipped, not_run) are left out */
  status?: string;
}

export function failureLine(row: FailureRow): string {
  return `${JSON.stringify({ uri: row.uri, code: row.code ?? 'unknown', message: row.message ?? '' })}\n`;
}

export function renderFailuresJsonl(rows: Iterable<FailureRow>): string {
  let out = '';
  for (const r of rows) if (r.status === undefined || r.status === 'failed') out += failureLine(r);
  return out;
}
