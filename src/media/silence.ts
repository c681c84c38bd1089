/**
 * The silence map of a file: ffmpeg's silencedetect over the whole audio track, once. The cutter also runs
 * the same filter inside its encode pass (see cut.ts), so the usual path decodes the source only once; this
 * standalone pass serves video sources and callers that only want the map.
 */
import { type Logger, silentLogger } from '../util/logger.ts';
import { mediaInputArgs } from './allow-list.ts';
import { childDeadlineMs, deadlinePolicy } from './child-deadline.ts';
import { runFfmpeg } from './ffmpeg.ts';
import { inputArg } from './probe.ts';
import type { Silence } from './types.ts';

/** Quieter than this counts as silence: pauses in speech over room noise sit well below it, words well above. */
export const DEFAULT_NOISE_DB = -35;
/** Shorter gaps are the pauses inside a phrase, not between phrases. */
export const DEFAULT_MIN_SILENCE_S = 0.3;

export function silenceFilter(noiseDb = DEFAULT_NOISE_DB, minSilenceS = DEFAULT_MIN_SILENCE_S): string {
  return `silencedetect=noise=${noiseDb}dB:duration=${minSilenceS}`;
}

/**
 * Collects silencedetect's log lines from stderr as they stream (an hour of audio can log thousands of them,
 * more than any kept stderr tail). Lines can arrive split across chunks, so it buffers up to each newline.
 */
export class SilenceCollector {
  private rest = '';
  private open: number | undefined;
  readonly silences: Silence[] = [];

  push(text: string): void {
    const lines = (this.rest + text).split(/\r?\n|\r/);
    this.rest = lines.pop() ?? '';
    for (const line of lines) this.line(line);
  }

  private line(line: string): void {
    const start = /silence_start: (-?[\d.]+(?:e-?\d+)?)/.exec(line);
    if (start) {
      this.open = Math.max(0, Number(start[1]));
      return;
    }
    const end = /silence_end: (-?[\d.]+(?:e-?\d+)?)/.exec(line);
    if (end && this.open !== undefined) {
      const endS = Number(end[1]);
      if (endS > this.open) this.silences.push({ startS: this.open, endS });
      this.open = undefined;
    }
  }

  /** The map; a silence still open at the end of the stream runs to `durationS`. */
  finish(durationS?: number): Silence[] {
    if (this.rest) this.line(this.rest);
    this.rest = '';
    if (this.open !== undefined && durationS !== undefined && durationS > this.open) this.silences.push({ startS: this.open, endS: durationS });
    this.open = undefined;
    return this.silences;
  }
}

export interface SilenceOptions {
  noiseDb?: number;
  minSilenceS?: number;
  log?: Logger;
  signal?: AbortSignal;
  /** absolute index of the audio stream (default: the first audio stream) */
  streamIndex?: number;
  /** closes a silence still open at the end; also scales the pass's deadline */
  durationS?: number;
  /** the demuxer the probe named (MediaInfo.container): forced, so the file is read as nothing else */
  format?: string;
  /** the decoders' frame-size cap (OMNIBATCH_MAX_PIXELS): ffmpeg decodes video while it reads the streams */
  maxPixels?: number;
}

export async function detectSilences(file: string, opts: SilenceOptions = {}): Promise<Silence[]> {
  const log = opts.log ?? silentLogger;
  const collector = new SilenceCollector();
  const map = opts.streamIndex === undefined ? '0:a:0' : `0:${opts.streamIndex}`;
  // -v info: silencedetect logs at info level; -nostats keeps progress lines out of the way.
  await runFfmpeg(
    [
      '-v',
      'info',
      '-nostats',
      ...mediaInputArgs(inputArg(file), opts.format, opts.maxPixels),
      '-map',
      map,
      '-vn',
      '-sn',
      '-dn',
      '-af',
      silenceFilter(opts.noiseDb, opts.minSilenceS),
      '-f',
      'null',
      '-',
    ],
    { log, signal: opts.signal, timeoutMs: childDeadlineMs('decode', opts.durationS, deadlinePolicy()), onStderr: (t) => collector.push(t) },
  );
  const silences = collector.finish(opts.durationS);
  log.debug({ file, silences: silences.length }, 'silences detected');
  return silences;
}
