/** Progress lines for `run --wait` and `status --watch`: pure formatting of a run's state. */
import { formatMicros } from '../cost/price.ts';
import { type Pace, workProgress } from '../runs/eta.ts';
import type { RunState } from '../runs/types.ts';

export interface Progress {
  state: RunState;
  costMicros: number;
  currency: string | null;
  /** false when some usage had no published price: the amount is then a lower bound */
  priced?: boolean;
  /** what had no price ("partly unpriced: 14082 input video tokens had no price") */
  unpricedNote?: string;
  elapsedS: number;
  /** requests whose result is recorded (the ledger's chunks): with it the ETA is by work (runs/eta.ts) */
  requestsDone?: number;
  /** epoch ms, for the work ETA's clock */
  now?: number;
  /** an earlier look (WorkHistory), for the recent rate */
  recent?: Pace;
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

/** A cost figure that says when it is partial: "0.009249 USD (partly unpriced: 14082 input video tokens had no price)". */
export function costFigure(micros: number, currency: string | null, priced: boolean | undefined, note?: string): string {
  if (priced === false && currency === null) return note || 'unpriced';
  return `${formatMicros(micros)}${currency ? ` ${currency}` : ''}${priced === false ? ` (${note || 'partly unpriced'})` : ''}`;
}

/** One line: files done/failed/skipped of total, requests done of planned, media time, cost so far, ETA. */
export function formatProgress(p: Progress, tty: boolean): string {
  const c = p.state.counts;
  const done = c.terminal;
  const total = Math.max(c.total, done);
  const work =
    p.requestsDone === undefined
      ? undefined
      : workProgress({ counts: c, scanDone: p.state.scanDone, requestsDone: p.requestsDone, now: p.now ?? Date.now(), recent: p.recent });
  let fraction = total ? done / total : 0;
  let eta: string;
  if (work && work.requestsPlanned !== null) {
    fraction = work.fraction;
    eta = work.etaS === null ? '?' : formatDuration(work.etaS);
  } else {
    // No plan known yet: by files (a first guess that a mixed set of short and long files gets wrong).
    const rate = p.elapsedS > 0 ? done / p.elapsedS : 0;
    eta = p.state.scanDone && rate > 0 ? formatDuration((total - done) / rate) : '?';
  }
  const parts = [
    `${done}/${total}${p.state.scanDone ? '' : '+'} files`,
    `${c.succeeded} ok`,
    `${c.failed} failed`,
    `${c.skipped} skipped`,
    ...(c.not_run ? [`${c.not_run} not run`] : []),
    ...(work?.requestsPlanned != null
      ? [`${work.requestsDone}/${work.requestsPlanned}${work.plannedEstimated ? '~' : ''} requests`]
      : [`${c.requests} requests`]),
    `${formatDuration(c.media_ms / 1000)} media`,
    `cost ${costFigure(p.costMicros, p.currency, p.priced, p.unpricedNote)}`,
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
