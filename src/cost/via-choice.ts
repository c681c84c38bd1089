/**
 * `--via auto --deadline D`, and what `--via batch` with a deadline must be told. Pure: the time the deadline
 * leaves, the batches' completion window, the predicted real-time wall time of the run and whether Batch
 * serves it in; a choice and its reason out.
 *
 * The rule is deliberately simple: a batch may take its whole completion window (the provider promises no
 * less), so Batch is chosen only when the deadline leaves the window AND, after it, the real-time wall time of
 * the whole run: if every batch ran to its last minute and answered nothing, `--batch-fallback realtime`
 * (which auto always sets) could still send everything in real time in time. Anything tighter goes in real
 * time from the start: a deadline closer than the window is a promise Batch cannot make.
 */
import { type BatchAsk, batchRefusal } from '../models/batch-support.ts';
import { formatSpan } from './deadline.ts';

export interface ViaFacts {
  /** seconds from now to the deadline */
  deadlineS: number;
  /** the batches' completion window, seconds (OMNIBATCH_BATCH_WINDOW) */
  windowS: number;
  /** the deadline planner's predicted wall time of the whole run in real time, seconds */
  realtimeWallS: number;
  /** why the Batch API cannot carry this run (batch-support.ts), when it cannot */
  batchRefusal?: string;
}

export type ViaChoice = { via: 'batch'; fallback: 'realtime'; reason: string } | { via: 'realtime'; reason: string };

export function chooseVia(f: ViaFacts): ViaChoice {
  if (f.batchRefusal) return { via: 'realtime', reason: `Batch does not serve this run (${f.batchRefusal})` };
  const needS = f.windowS + f.realtimeWallS;
  const window = formatSpan(f.windowS);
  const wall = formatSpan(f.realtimeWallS);
  if (f.deadlineS >= needS) {
    return {
      via: 'batch',
      fallback: 'realtime',
      reason: `the deadline (in ${formatSpan(f.deadlineS)}) leaves the completion window (${window}) and the real-time wall time (${wall}) after it: half price, and what a batch has not answered when the deadline nears goes in real time`,
    };
  }
  return {
    via: 'realtime',
    reason: `the deadline (in ${formatSpan(f.deadlineS)}) is closer than the completion window (${window}) plus the real-time wall time (${wall}): a batch may take its whole window`,
  };
}

/**
 * `--via batch` with `--deadline` and no fallback: the deadline planner sized the chunks for real time, but a
 * batch may take its whole completion window. Said (never silently assumed) when the window ends after the
 * deadline; undefined when the window fits.
 */
export function batchDeadlineWarning(f: { deadlineS: number; windowS: number; fallback?: string }): string | undefined {
  if (f.fallback || f.windowS <= f.deadlineS) return undefined;
  return (
    `via batch: a batch may take its whole completion window (${formatSpan(f.windowS)}), longer than the deadline leaves ` +
    `(${formatSpan(f.deadlineS)}): the run may end after it. Add --batch-fallback realtime to send what is left in real time in time, or use --via auto`
  );
}

/** What the run is sent through once the deadline is planned: `--via auto` decided, a Batch run's warning. */
export interface ViaDecision {
  via: 'realtime' | 'batch';
  batchFallback?: 'realtime';
  /** --via auto: what it chose and why */
  choice?: ViaChoice;
  /** --via batch without a fallback, when the window is longer than the deadline leaves */
  warning?: string;
}

export interface ViaAsk {
  /** --via as given (realtime when absent) */
  via?: string;
  batchFallback?: string;
  ask: BatchAsk;
}

export function viaForDeadline(a: ViaAsk, t: Omit<ViaFacts, 'batchRefusal'>): ViaDecision {
  if (a.via === 'auto') {
    const choice = chooseVia({ ...t, ...withRefusal(batchRefusal(a.ask)) });
    return choice.via === 'batch' ? { via: 'batch', batchFallback: 'realtime', choice } : { via: 'realtime', choice };
  }
  const via = a.via === 'batch' ? 'batch' : 'realtime';
  const fallback = a.batchFallback === 'realtime' ? ('realtime' as const) : undefined;
  const warning = via === 'batch' ? batchDeadlineWarning({ deadlineS: t.deadlineS, windowS: t.windowS, ...(fallback && { fallback }) }) : undefined;
  return { via, ...(fallback && { batchFallback: fallback }), ...(warning && { warning }) };
}

const withRefusal = (r: string | undefined) => (r ? { batchRefusal: r } : {});

/** The decision in a line or two for the user (none when there is nothing to say). */
export function viaLines(d: ViaDecision): string[] {
  if (d.choice) return [`via auto: ${d.choice.via === 'batch' ? 'batch, with --batch-fallback realtime' : 'realtime'}: ${d.choice.reason}`];
  return d.warning ? [d.warning] : [];
}
