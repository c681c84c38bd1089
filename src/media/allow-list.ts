/**
 * What ffmpeg/ffprobe may open when they read a stranger's file. PURE: argument arrays and verdicts.
 *
 * Why: ffmpeg picks a demuxer by the file's content, not its name. A 137-byte text file named clip.mp3 that
 * is really an HLS playlist makes ffmpeg open every entry it lists (`file:///other/job/enc-1.mp3`,
 * `http://169.254.169.254/...`, an #EXT-X-KEY URI), and a live one (no #EXT-X-ENDLIST) makes it wait for
 * ever. So every input is opened with:
 *  - `-protocol_whitelist file`: only the local file itself (nested opens inherit it: no http, no pipe, no
 *    concat/subfile protocol). Nothing we run reads stdin or a URL;
 *  - `-format_whitelist` of real media containers: a playlist/indirection demuxer (hls, dash, concat,
 *    image2, tty, lavfi, *_pipe) refuses to open at all, so it never reads an entry;
 *  - after the probe, `-f <the probed demuxer>`: later passes cannot be talked into another demuxer.
 */
import { OmniError } from '../util/errors.ts';
import { ALLOWED_DEMUXERS, describeRefused } from './formats.ts';

export const PROTOCOL_ALLOW = 'file';

/**
 * Demuxer names (`ffmpeg -demuxers`) of containers that hold their media inside themselves: the table in
 * formats.ts, which also gives the extensions a listing takes by default. -format_whitelist matches any name of
 * a demuxer's comma list, so `mov` admits "mov,mp4,m4a,3gp,3g2,mj2" and `matroska` admits "matroska,webm".
 */
export const FORMAT_ALLOW: readonly string[] = ALLOWED_DEMUXERS;

const ALLOWED = new Set(FORMAT_ALLOW);

/**
 * Still pictures, for the general probe only (the emulator and `ask` take images): each of these demuxers reads
 * the one file it is given. Never used for the pipeline's media, where a picture is not a chunkable file.
 */
export const STILL_IMAGE_ALLOW: readonly string[] = Object.freeze(['png_pipe', 'jpeg_pipe', 'webp_pipe', 'bmp_pipe', 'tiff_pipe', 'gif']);

/** The demuxer that read a file, from ffprobe's format_name ("mov,mp4,m4a,3gp,3g2,mj2" -> "mov"). */
export function demuxerOf(container: string): string {
  return container.split(',')[0].trim();
}

/** True when ffprobe's format_name names a demuxer on the allow-list. */
export function isAllowedContainer(container: string): boolean {
  return ALLOWED.has(demuxerOf(container));
}

/** The refusal of a container that is not media in itself (a playlist, a list of files, a device, a filter). */
export function unsupportedContainer(container: string): OmniError {
  return new OmniError(
    'media_unsupported_container',
    `the file is ${describeRefused(demuxerOf(container))}: refused (the containers read as media are listed in the README, "Formats")`,
    { details: { container } },
  );
}

/** Throws media_unsupported_container unless the probed container is on the allow-list. */
export function checkContainer(container: string): void {
  if (!isAllowedContainer(container)) throw unsupportedContainer(container);
}

/**
 * The demuxer ffmpeg refused because of the whitelist, from its stderr (`[hls @ 0x55..] Format not on
 * whitelist 'mov,...'`), or undefined when that was not the failure.
 */
export function refusedFormat(stderr: string): string | undefined {
  const m = /\[([\w,]+) @ [^\]]*\] Format not on whitelist/.exec(stderr);
  return m ? m[1] : /Format not on whitelist/.test(stderr) ? 'unknown' : undefined;
}

/**
 * The input options and the input itself for one media file: allow-lists always, `-f` once the probe has
 * named the demuxer. `input` is already an ffmpeg argument (`file:/abs/path`, see probe.ts inputArg).
 * Use with ffmpeg as `[...mediaInputArgs(arg, fmt)]` (ends with `-i arg`); ffprobe takes the same options
 * without `-i`: see probeInputArgs. `maxPixels` (the OMNIBATCH_MAX_PIXELS limit) becomes the decoders'
 * `-max_pixels`: the probe already refused a larger frame (limits.ts), this holds even where a header lied
 * or a stream changes size mid-file, and covers the pictures ffmpeg decodes while it reads the input's
 * streams, also in an audio-only pass. A decoder that meets a larger frame fails the pass with
 * media_too_many_pixels (ffmpeg.ts, via limits.ts pixelRefusal).
 */
export function mediaInputArgs(input: string, format?: string, maxPixels?: number): string[] {
  return [...(maxPixels !== undefined ? ['-max_pixels', String(Math.floor(maxPixels))] : []), ...inputOptions(format), '-i', input];
}

/** The same for ffprobe, whose input is the last positional argument. `formats`: the demuxers allowed. */
export function probeInputArgs(input: string, format?: string, formats: readonly string[] = FORMAT_ALLOW): string[] {
  return [...inputOptions(format, formats), input];
}

function inputOptions(format?: string, formats: readonly string[] = FORMAT_ALLOW): string[] {
  const args = ['-protocol_whitelist', PROTOCOL_ALLOW, '-format_whitelist', formats.join(',')];
  if (format !== undefined) {
    const f = demuxerOf(format);
    // Never force a demuxer the list does not hold: the caller passed a container that was not checked.
    checkContainer(f);
    args.push('-f', f);
  }
  return args;
}

/** The demuxer of a file we encoded ourselves (EncodeSpec.format -> demuxer name). */
export function demuxerOfEncoded(format: string): string {
  const map: Record<string, string> = { mp3: 'mp3', mp4: 'mov', m4a: 'mov', mov: 'mov', wav: 'wav', amr: 'amr', ogg: 'ogg', flac: 'flac' };
  const d = map[format];
  if (!d) throw new OmniError('internal', `no demuxer known for encoded format ${format}`);
  return d;
}
