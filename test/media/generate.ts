/** Test media made on the fly with ffmpeg's lavfi sources (nothing binary is committed). */
import { runFfmpeg } from '../../src/media/ffmpeg.ts';
import type { Silence } from '../../src/media/types.ts';

export interface Gaps {
  everyS: number;
  lengthS: number;
}

/**
 * Noise ("speech") with digital-silence gaps of `lengthS` every `everyS` seconds (the first at everyS). The gate is
 * evaluated per frame of ~16 ms, so a gap's edges are exact to one frame.
 */
export async function noiseWithGaps(file: string, o: { seconds: number; rate?: number; channels?: 1 | 2; gaps?: Gaps }): Promise<void> {
  const rate = o.rate ?? 16_000;
  const frame = Math.round(rate / 64);
  const gate = o.gaps ? `volume='if(gte(t,${o.gaps.everyS})*lt(mod(t,${o.gaps.everyS}),${o.gaps.lengthS}),0,1)':eval=frame,` : '';
  const pan = o.channels === 2 ? 'pan=stereo|c0=c0|c1=0.8*c0' : 'pan=mono|c0=c0';
  await runFfmpeg([
    '-v',
    'error',
    '-f',
    'lavfi',
    '-i',
    `anoisesrc=r=${rate}:a=0.3:c=pink:d=${o.seconds}:nb_samples=${frame}`,
    '-af',
    `${gate}${pan}`,
    '-c:a',
    'pcm_s16le',
    '-y',
    `file:${file}`,
  ]);
}

/** The gaps noiseWithGaps makes, on the source's timeline. */
export function gapsOf(seconds: number, g: Gaps): Silence[] {
  const out: Silence[] = [];
  for (let t = g.everyS; t < seconds; t += g.everyS) out.push({ startS: t, endS: Math.min(seconds, t + g.lengthS) });
  return out;
}

/** A test-pattern video (320x240, 10 fps) with gapped noise as its sound. */
export async function videoWithGaps(file: string, o: { seconds: number; gaps: Gaps }): Promise<void> {
  const g = o.gaps;
  await runFfmpeg([
    '-v',
    'error',
    '-f',
    'lavfi',
    '-i',
    `testsrc2=size=320x240:rate=10:duration=${o.seconds}`,
    '-f',
    'lavfi',
    '-i',
    `anoisesrc=r=16000:a=0.3:c=pink:d=${o.seconds}:nb_samples=250`,
    '-af',
    `volume='if(gte(t,${g.everyS})*lt(mod(t,${g.everyS}),${g.lengthS}),0,1)':eval=frame`,
    '-c:v',
    'libx264',
    '-preset',
    'ultrafast',
    '-crf',
    '28',
    '-pix_fmt',
    'yuv420p',
    '-c:a',
    'aac',
    '-b:a',
    '48k',
    '-shortest',
    '-y',
    `file:${file}`,
  ]);
}

/** A live WebM of Opus noise: no duration anywhere in its header (what a recorder streaming to a bucket leaves). */
export async function liveWebm(file: string, o: { seconds: number; rate: number; bitrate: string }): Promise<void> {
  await runFfmpeg([
    '-v',
    'error',
    '-f',
    'lavfi',
    '-i',
    `anoisesrc=r=${o.rate}:a=0.2:d=${o.seconds}`,
    '-c:a',
    'libopus',
    '-b:a',
    o.bitrate,
    '-f',
    'webm',
    '-live',
    '1',
    '-y',
    `file:${file}`,
  ]);
}
