/**
 * Thin adapter over the ffmpeg and ffprobe binaries: where they are, and running them. Decides nothing.
 * Location: FFMPEG_PATH/FFPROBE_PATH, else the system's (on PATH), else the static binaries shipped in
 * @ffmpeg-installer/ffmpeg and @ffprobe-installer/ffprobe, so a machine with only Node works after npm ci.
 */
import { spawn, spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { OmniError } from '../util/errors.ts';
import { redactUrls } from '../util/redact.ts';
import { silentLogger, type Logger } from '../util/logger.ts';

const require = createRequire(import.meta.url);
let located: { ffmpeg: string; ffprobe: string; source: string } | undefined;

function onPath(bin: string): boolean {
  const r = spawnSync(bin, ['-version'], { stdio: 'ignore' });
  return r.status === 0;
}

export function locateFfmpeg(log: Logger = silentLogger): { ffmpeg: string; ffprobe: string; source: string } {
  if (located) return located;
  const envFf = process.env.FFMPEG_PATH;
  const envFp = process.env.FFPROBE_PATH;
  let ffmpeg: string | undefined = envFf;
  let ffprobe: string | undefined = envFp;
  let source = envFf || envFp ? 'environment' : '';
  if (!ffmpeg && onPath('ffmpeg')) { ffmpeg = 'ffmpeg'; source ||= 'system'; }
  if (!ffprobe && onPath('ffprobe')) { ffprobe = 'ffprobe'; source ||= 'system'; }
  if (!ffmpeg) {
    try { ffmpeg = (require('@ffmpeg-installer/ffmpeg') as { path: string }).path; source ||= 'npm package'; } catch { /* not installed */ }
  }
  if (!ffprobe) {
    try { ffprobe = (require('@ffprobe-installer/ffprobe') as { path: string }).path; source ||= 'npm package'; } catch { /* not installed */ }
  }
  if (!ffmpeg || !ffprobe) {
    throw new OmniError('ffmpeg_missing', 'ffmpeg/ffprobe not found: install ffmpeg, or set FFMPEG_PATH and FFPROBE_PATH', { retryable: false });
  }
  located = { ffmpeg, ffprobe, source };
  log.debug({ ffmpeg, ffprobe, source }, 'ffmpeg located');
  return located;
}

export interface RunResult { stdout: string; stderr: string }

const STDERR_TAIL = 8 * 1024;

/** Runs a binary with an argument array (no shell: hostile file names are safe). Rejects with a coded error. */
export interface RunOptions {
  log?: Logger;
  signal?: AbortSignal;
  code?: string;
  maxStdout?: number;
  /** working directory of the child (the cutter runs in its temp dir so output patterns stay relative and safe) */
  cwd?: string;
  /** every stderr chunk as it arrives, for callers that parse long logs (silencedetect) beyond the kept tail */
  onStderr?: (text: string) => void;
}

export function runBinary(bin: string, args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  const log = opts.log ?? silentLogger;
  log.debug({ bin, args: args.map(redactUrls) }, 'spawn');
  return new Promise((resolve, reject) => {
    const child = spawn(bin, args as string[], { stdio: ['ignore', 'pipe', 'pipe'], signal: opts.signal, cwd: opts.cwd });
    const out: Buffer[] = [];
    let outBytes = 0;
    let err = '';
    child.stdout.on('data', (d: Buffer) => {
      outBytes += d.length;
      if (outBytes <= (opts.maxStdout ?? 64 * 1024 * 1024)) out.push(d);
    });
    child.stderr.on('data', (d: Buffer) => {
      const text = d.toString('utf8');
      opts.onStderr?.(text);
      err += text;
      if (err.length > STDERR_TAIL * 2) err = err.slice(-STDERR_TAIL);
    });
    child.on('error', (e) => reject(new OmniError(opts.code ?? 'ffmpeg_failed', `${bin} could not run: ${e.message}`, { retryable: false, cause: e })));
    child.on('close', (code, sig) => {
      const stdout = Buffer.concat(out).toString('utf8');
      if (code === 0) return resolve({ stdout, stderr: err });
      const tail = redactUrls(err.slice(-2000).trim());
      log.warn({ bin, code, signal: sig, stderr: tail }, 'process failed');
      reject(new OmniError(opts.code ?? 'ffmpeg_failed', `${bin.split('/').pop()} exited ${code ?? sig}: ${tail.split('\n').slice(-3).join(' | ')}`, { retryable: false, details: { stderr: tail } }));
    });
  });
}

export function runFfmpeg(args: readonly string[], opts: Omit<RunOptions, 'code'> = {}): Promise<RunResult> {
  return runBinary(locateFfmpeg(opts.log).ffmpeg, ['-hide_banner', '-nostdin', ...args], opts);
}

/** ffprobe -print_format json on a file or URL; the parsed JSON. */
export async function ffprobeJson(input: string, opts: { log?: Logger; signal?: AbortSignal; extra?: string[] } = {}): Promise<Record<string, unknown>> {
  const { stdout } = await runBinary(locateFfmpeg(opts.log).ffprobe,
    ['-v', 'error', '-print_format', 'json', '-show_format', '-show_streams', ...(opts.extra ?? []), input],
    { ...opts, code: 'media_unreadable' });
  return JSON.parse(stdout) as Record<string, unknown>;
}
