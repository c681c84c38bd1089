/**
 * SRT and WebVTT from cues. Times are rounded to the millisecond once, clamped to the source's
 * duration, and a cue that would end up empty or zero-length is left out, so a player never sees
 * an inverted or out-of-range cue.
 */
import type { Cue } from '../stitch/types.ts';

export interface SubtitleOptions {
  /** the source's duration: no cue ends after it */
  durationS?: number;
}

/** 3723.5 -> "01:02:03,500" (SRT) or "01:02:03.500" (VTT). Hours grow past 99 rather than wrap. */
export function formatTimestamp(seconds: number, separator: ',' | '.'): string {
  const ms = Math.max(0, Math.round(seconds * 1000));
  const h = Math.floor(ms / 3_600_000);
  const m = Math.floor((ms % 3_600_000) / 60_000);
  const s = Math.floor((ms % 60_000) / 1000);
  const pad = (n: number, w = 2): string => String(n).padStart(w, '0');
  return `${pad(h)}:${pad(m)}:${pad(s)}${separator}${pad(ms % 1000, 3)}`;
}

interface TimedLines {
  startMs: number;
  endMs: number;
  lines: string[];
}

function prepare(cues: readonly Cue[], opts: SubtitleOptions): TimedLines[] {
  const limit = opts.durationS === undefined ? Infinity : Math.round(opts.durationS * 1000);
  const out: TimedLines[] = [];
  for (const c of cues) {
    const startMs = Math.max(0, Math.round(c.startS * 1000));
    const endMs = Math.min(limit, Math.round(c.endS * 1000));
    // A blank line would end the cue early in both formats.
    const lines = c.text
      .split(/\r?\n/u)
      .map((l) => l.trim())
      .filter(Boolean);
    if (endMs > startMs && lines.length > 0) out.push({ startMs, endMs, lines });
  }
  return out;
}

export function renderSrt(cues: readonly Cue[], opts: SubtitleOptions = {}): string {
  return prepare(cues, opts)
    .map((c, i) => `${i + 1}\n${formatTimestamp(c.startMs / 1000, ',')} --> ${formatTimestamp(c.endMs / 1000, ',')}\n${c.lines.join('\n')}\n`)
    .join('\n');
}

/** WebVTT cue text is markup: &, < and > are escaped (which also keeps "-->" out of it). */
function escapeVtt(line: string): string {
  return line.replace(/&/gu, '&amp;').replace(/</gu, '&lt;').replace(/>/gu, '&gt;');
}

export function renderVtt(cues: readonly Cue[], opts: SubtitleOptions = {}): string {
  const body = prepare(cues, opts)
    .map((c) => `${formatTimestamp(c.startMs / 1000, '.')} --> ${formatTimestamp(c.endMs / 1000, '.')}\n${c.lines.map(escapeVtt).join('\n')}\n`)
    .join('\n');
  return body ? `WEBVTT\n\n${body}` : 'WEBVTT\n';
}

/** The segments document: the same cues as the SRT (same times, same lines), as JSON for programs. */
export const SEGMENTS_SCHEMA = 'omnibatch.segments/v1';

export function renderSegmentsJson(cues: readonly Cue[], opts: SubtitleOptions & { language?: string } = {}): string {
  const segments = prepare(cues, opts).map((c, i) => ({ id: i + 1, start: c.startMs / 1000, end: c.endMs / 1000, text: c.lines.join('\n') }));
  return `${JSON.stringify({ schema: SEGMENTS_SCHEMA, ...(opts.language && { language: opts.language }), segments }, null, 2)}\n`;
}
