/** Progress lines for `run --wait` and `status --watch`: pure formatting of a run's state. */
import { formatMicros } from '../cost/price.ts';
import type { RunState } from '../runs/types.ts';

export interface Progress {
  state: RunState;
  costMicros: number;
  currency: string | null;
  /** false when some usage had no published price: the amount is then a lower bound */
  priced?: boolean;
  elapsedS: number;
}

function bar(fraction: number, width = 24): string {
  const n = Math.max(0, Math.min(width, Math.round(fraction * width)));
  return `[${'#'.repeat(n)}${'.'.repeat(width - n)}]`;
}

export function formatDuration(s: number): string {
  if (!Number.isFinite(s)) return '?';
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = Math.floor(s % 60);
  return h ? `${h}h${String(m).padStart(2, '0')}m` : m ? `${m}m${String(sec).padStart(2, '0')}s` : `${sec}s`;
}

/** One line: files done/failed/skipped of total, media time, requests, cost so far, ETA. */
export function formatProgress(p: Progress, tty: boolean): string {
  const c = p.state.counts;
  const done = c.terminal;
  const total = Math.max(c.total, done);
  const fraction = total ? done / total : 0;
  const rate = p.elapsedS > 0 ? done / p.elapsedS : 0;
  const eta = p.state.scanDone && rate > 0 ? formatDuration((total - done) / rate) : '?';
  const cost = `${formatMicros(p.costMicros)}${p.currency ? ` ${p.currency}` : ''}${p.priced === false ? ' (partly unpriced)' : ''}`;
  const parts = [
    `${done}/${total}${p.state.scanDone ? '' : '+'} files`,
    `${c.succeeded} ok`,
    `${c.failed} failed`,
    `${c.skipped} skipped`,
    ...(c.not_run ? [`${c.not_run} not run`] : []),
    `${formatDuration(c.media_ms / 1000)} media`,
    `${c.requests} requests`,
    `cost ${cost}`,
    `eta ${eta}`,
  ];
  return tty ? `${bar(fraction)} ${parts.join(' | ')}` : `${p.state.spec.runId} ${p.state.status}: ${parts.join(', ')}`;
}

/** The process exit code for a finished run: 0 all done or skipped, 2 some failed, 3 stopped by the budget. */
export function exitCodeFor(status: RunState['status']): number {
  switch (status) {
    case 'completed':
      return 0;
    case 'completed_with_failures':
      return 2;
    case 'stopped_budget':
      return 3;
    case 'cancelled':
      return 2;
    case 'stopped_error':
      return 2;
    default:
      return 1;
  }
}

export function isFinal(status: RunState['status']): boolean {
  return status !== 'running' && status !== 'stopping';
}
