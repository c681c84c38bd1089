/**
 * Thin adapter over the ffmpeg and ffprobe binaries: where they are, and running them. Decides nothing.
 * Location: FFMPEG_PATH/FFPROBE_PATH, else the system's (on PATH), else the static binaries shipped in
 * @ffmpeg-installer/ffmpeg and @ffprobe-installer/ffprobe, so a machine with only Node works after npm ci.
 * Every child runs detached in its own process group, under a wall-clock deadline, and is killed with its whole
 * group on that deadline, on an abort (job cancel, worker shutdown) and when this process exits; behind the guards
 * of child-argv.ts, so a worker killed with SIGKILL takes it along too: none outlives it.
 */
import { spawn, spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import path from 'node:path';
import { hostEnvironment } from '../config/index.ts';
import { type FailureCode, OmniError } from '../util/errors.ts';
import { type Logger, silentLogger } from '../util/logger.ts';
import { redactUrls } from '../util/redact.ts';
import { FORMAT_ALLOW, probeInputArgs, STILL_IMAGE_ALLOW } from './allow-list.ts';
import { type ChildGuards, childArgv, childEnv } from './child-argv.ts';
import { childDeadlineMs, childMemoryBytes, deadlinePolicy } from './child-deadline.ts';
import { memoryRefusal, pixelRefusal } from './limits.ts';

const require = createRequire(import.meta.url);
let located: { ffmpeg: string; ffprobe: string; source: string } | undefined;
/** The operator's binaries (Config's ffmpegPath / ffprobePath), installed at startup: app/process-settings.ts. */
let configured: { ffmpeg?: string; ffprobe?: string } = {};

/** Uses these binaries from now on (either may be left to the search below); forgets what was located. */
export function setFfmpegPaths(paths: { ffmpeg?: string; ffprobe?: string }): void {
  configured = { ...paths };
  located = undefined;
}

function onPath(bin: string): boolean {
  const r = spawnSync(bin, ['-version'], { stdio: 'ignore' });
  return r.status === 0;
}

export function locateFfmpeg(log: Logger = silentLogger): { ffmpeg: string; ffprobe: string; source: string } {
  if (located) return located;
  let ffmpeg: string | undefined = configured.ffmpeg;
  let ffprobe: string | undefined = configured.ffprobe;
  let source = ffmpeg || ffprobe ? 'configuration' : '';
  if (!ffmpeg && onPath('ffmpeg')) {
    ffmpeg = 'ffmpeg';
    source ||= 'system';
  }
  if (!ffprobe && onPath('ffprobe')) {
    ffprobe = 'ffprobe';
    source ||= 'system';
  }
  if (!ffmpeg) {
    try {
      ffmpeg = (require('@ffmpeg-installer/ffmpeg') as { path: string }).path;
      source ||= 'npm package';
    } catch {
      /* not installed */
    }
  }
  if (!ffprobe) {
    try {
      ffprobe = (require('@ffprobe-installer/ffprobe') as { path: string }).path;
      source ||= 'npm package';
    } catch {
      /* not installed */
    }
  }
  if (!ffmpeg || !ffprobe) {
    throw new OmniError('ffmpeg_missing', 'ffmpeg/ffprobe not found: install ffmpeg, or set FFMPEG_PATH and FFPROBE_PATH');
  }
  located = { ffmpeg, ffprobe, source };
  log.debug({ ffmpeg, ffprobe, source }, 'ffmpeg located');
  return located;
}

let guards: ChildGuards | undefined;

/**
 * The guard binaries of child-argv.ts on this machine, detected once (each must run `true` with the options we
 * use: an old util-linux has setpriv without --pdeathsig). What is missing is logged once, with the first
 * caller's logger (the worker calls this at start with its own).
 */
export function childGuards(log: Logger = silentLogger): ChildGuards {
  if (guards) return guards;
  const runs = (file: string, args: string[]): boolean => spawnSync(file, args, { stdio: 'ignore', timeout: 10_000 }).status === 0;
  guards = {
    setpriv: process.platform === 'linux' && runs('setpriv', ['--pdeathsig', 'SIGKILL', '--', 'true']) ? 'setpriv' : undefined,
    timeout: runs('timeout', ['-s', 'KILL', '60', 'true']) ? 'timeout' : undefined,
    prlimit: process.platform === 'linux' && runs('prlimit', [`--as=${1024 ** 3}`, '--', 'true']) ? 'prlimit' : undefined,
  };
  const missing = [
    guards.setpriv ? '' : 'setpriv --pdeathsig (util-linux, Linux)',
    guards.timeout ? '' : 'timeout (coreutils)',
    guards.prlimit ? '' : 'prlimit (util-linux, Linux: no per-child memory limit)',
  ].filter(Boolean);
  if (missing.length) {
    log.warn(
      { missing, platform: process.platform },
      `${missing.join(' and ')} not found: ffmpeg children of a worker killed with SIGKILL ${guards.timeout ? 'run on until their own deadline' : guards.setpriv ? 'die with it, but have no deadline of their own' : 'run on until they end'}`,
    );
  } else log.debug({ guards }, 'ffmpeg children die with this process and have their own deadline');
  return guards;
}

export interface RunResult {
  stdout: string;
  /** the same bytes, undecoded (PCM on a pipe) */
  stdoutBytes: Buffer;
  stderr: string;
}

const STDERR_TAIL = 8 * 1024;
/** Between SIGTERM (ffmpeg finishes its output cleanly) and SIGKILL to the whole group. */
export const KILL_GRACE_MS = 2_000;

/** Runs a binary with an argument array (no shell: hostile file names are safe). Rejects with a coded error. */
export interface RunOptions {
  log?: Logger;
  /** aborting kills the child's process group; the promise rejects with the signal's reason when it is an OmniError */
  signal?: AbortSignal;
  code?: FailureCode;
  maxStdout?: number;
  /** working directory of the child (the cutter runs in its temp dir so output patterns stay relative and safe) */
  cwd?: string;
  /** every stderr chunk as it arrives, for callers that parse long logs (silencedetect) beyond the kept tail */
  onStderr?: (text: string) => void;
  /** wall-clock deadline (default: the ceiling of deadline.ts); past it the group is killed: `media_timeout` */
  timeoutMs?: number;
  /** address-space limit in MB (default: OMNIBATCH_CHILD_MAX_MEMORY_MB); 0: none, for media we generate ourselves */
  memoryMb?: number;
}

/**
 * Live children, by pid (= their process group id: each is spawned detached, so it leads its own group and
 * whatever it starts dies with it). Killed when this process exits or is told to stop.
 */
const live = new Map<number, { bin: string }>();

function killGroup(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(-pid, sig);
  } catch {
    // ESRCH: the group is gone already.
  }
}

/** SIGKILL to every live child's process group, now (synchronous: safe inside an 'exit' handler). */
export function killAllChildren(): number {
  const n = live.size;
  for (const pid of live.keys()) killGroup(pid, 'SIGKILL');
  live.clear();
  return n;
}

/** How many children are running (the worker's shutdown and the tests look at it). */
export function liveChildren(): number {
  return live.size;
}

let hooked = false;
/**
 * Detached children do not get the terminal's SIGINT and outlive a process that dies of a signal, so:
 * 'exit' kills them; a termination signal that nobody else handles kills them and then ends this process
 * the default way (re-raised). Where another handler exists (the worker's graceful shutdown), it decides,
 * and 'exit' is the backstop.
 */
function hookExit(): void {
  if (hooked) return;
  hooked = true;
  process.on('exit', () => {
    killAllChildren();
  });
  for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) {
    const onSignal = (): void => {
      if (process.listenerCount(sig) > 1) return;
      killAllChildren();
      process.removeListener(sig, onSignal);
      process.kill(process.pid, sig);
    };
    process.on(sig, onSignal);
  }
}

export function runBinary(bin: string, args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  const log = opts.log ?? silentLogger;
  const name = bin.split('/').pop() ?? bin;
  const timeoutMs = opts.timeoutMs ?? deadlinePolicy().ceilingMs;
  const cmd = childArgv(bin, args, {
    deadlineMs: timeoutMs,
    graceMs: KILL_GRACE_MS,
    guards: childGuards(log),
    memoryBytes: childMemoryBytes(opts.memoryMb),
  });
  const via = [cmd.file, ...cmd.args].slice(0, cmd.args.length - args.length);
  log.debug({ bin, args: args.map(redactUrls), timeoutMs, via }, 'spawn');
  return new Promise((resolve, reject) => {
    if (opts.signal?.aborted) return reject(abortError(opts.signal, name));
    hookExit();
    const startedAt = Date.now();
    // detached: its own process group (and session), so a kill reaches everything it started.
    // A clean environment: no API key, webhook secret or cloud credentials reach a decoder of a stranger's file.
    const child = spawn(cmd.file, cmd.args, { stdio: ['ignore', 'pipe', 'pipe'], cwd: opts.cwd, detached: true, env: childEnv(hostEnvironment()) });
    const pid = child.pid;
    if (pid !== undefined) live.set(pid, { bin: name });
    let ended = false;
    let stopped: OmniError | undefined;
    let killTimer: NodeJS.Timeout | undefined;
    const stop = (why: OmniError): void => {
      if (ended || stopped || pid === undefined) return;
      stopped = why;
      log.warn({ bin: name, pid, code: why.code }, 'killing the process group');
      killGroup(pid, 'SIGTERM');
      killTimer = setTimeout(() => killGroup(pid, 'SIGKILL'), KILL_GRACE_MS);
    };
    const timedOut = (): OmniError =>
      new OmniError('media_timeout', `${name} did not finish within ${Math.round(timeoutMs / 1000)} s: stopped`, {
        details: { timeoutMs },
      });
    const deadline = setTimeout(() => stop(timedOut()), timeoutMs);
    const onAbort = (): void => stop(abortError(opts.signal!, name));
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    const out: Buffer[] = [];
    let outBytes = 0;
    let err = '';
    // Seen as it passes: a long -v info log would push it out of the kept tail.
    let pixels: string | undefined;
    let outOfMemory = false;
    child.stdout.on('data', (d: Buffer) => {
      outBytes += d.length;
      if (outBytes <= (opts.maxStdout ?? 64 * 1024 * 1024)) out.push(d);
    });
    child.stderr.on('data', (d: Buffer) => {
      const text = d.toString('utf8');
      opts.onStderr?.(text);
      pixels ??= pixelRefusal(text);
      outOfMemory ||= memoryRefusal(text);
      err += text;
      if (err.length > STDERR_TAIL * 2) err = err.slice(-STDERR_TAIL);
    });
    const finish = (): void => {
      ended = true;
      clearTimeout(deadline);
      opts.signal?.removeEventListener('abort', onAbort);
      if (pid !== undefined) {
        live.delete(pid);
        // The leader is gone; anything it left in its group goes with it.
        if (stopped) killGroup(pid, 'SIGKILL');
      }
      if (killTimer) clearTimeout(killTimer);
    };
    child.on('error', (e) => {
      finish();
      reject(new OmniError(opts.code ?? 'ffmpeg_failed', `${bin} could not run: ${e.message}`, { cause: e }));
    });
    child.on('close', (code, sig) => {
      finish();
      if (stopped) return reject(stopped);
      // The orphan bound (child-argv.ts) fired first: this process was too busy to run its own deadline.
      if (sig === 'SIGKILL' && Date.now() - startedAt >= timeoutMs) return reject(timedOut());
      const stdoutBytes = Buffer.concat(out);
      const stdout = stdoutBytes.toString('utf8');
      const tail = redactUrls(err.slice(-2000).trim());
      // Out of its address space, a decoder drops frames and ffmpeg may still exit 0: never a result. (A frame
      // refused by -max_pixels also fails its get_buffer: that is the pixel refusal below.)
      if (outOfMemory && !pixels) {
        log.warn({ bin, code, signal: sig, stderr: tail }, 'out of the child memory limit');
        const msg = `${name} ran out of its memory limit (OMNIBATCH_CHILD_MAX_MEMORY_MB) decoding the file`;
        return reject(new OmniError('media_too_costly', msg, { details: { stderr: tail } }));
      }
      if (code === 0) return resolve({ stdout, stdoutBytes, stderr: err });
      log.warn({ bin, code, signal: sig, stderr: tail }, 'process failed');
      if (pixels) {
        const msg = `a ${pixels} video frame is larger than the limit (OMNIBATCH_MAX_PIXELS): the decoder refused it`;
        return reject(new OmniError('media_too_many_pixels', msg, { details: { stderr: tail } }));
      }
      reject(
        new OmniError(opts.code ?? failureCodeOf(tail), `${name} exited ${code ?? sig}: ${withoutPaths(tail.split('\n').slice(-3).join(' | '))}`, {
          details: { stderr: tail },
        }),
      );
    });
  });
}

/** The error an aborted run rejects with: the signal's own reason when it is coded, else `aborted` (retryable). */
function abortError(signal: AbortSignal, name: string): OmniError {
  const r: unknown = signal.reason;
  if (r instanceof OmniError) return r;
  return new OmniError('aborted', `${name} stopped: ${r instanceof Error ? r.message : 'aborted'}`);
}

export function runFfmpeg(args: readonly string[], opts: Omit<RunOptions, 'code'> = {}): Promise<RunResult> {
  return runBinary(locateFfmpeg(opts.log).ffmpeg, ['-hide_banner', '-nostdin', ...args], opts);
}

/**
 * ffprobe -print_format json on a local file; the parsed JSON. The allow-list applies (allow-list.ts): no URL,
 * no playlist, no other file than this one is ever opened. Still pictures are admitted here (the emulator and
 * `ask` probe images); the pipeline's own probe (probe.ts) admits media containers only.
 */
export async function ffprobeJson(
  input: string,
  opts: { log?: Logger; signal?: AbortSignal; extra?: string[]; format?: string; timeoutMs?: number } = {},
): Promise<Record<string, unknown>> {
  const arg = input.startsWith('file:') ? input : `file:${path.resolve(input)}`;
  const { stdout } = await runBinary(
    locateFfmpeg(opts.log).ffprobe,
    [
      '-v',
      'error',
      '-print_format',
      'json',
      '-show_format',
      '-show_streams',
      ...(opts.extra ?? []),
      ...probeInputArgs(arg, opts.format, [...FORMAT_ALLOW, ...STILL_IMAGE_ALLOW]),
    ],
    { ...opts, timeoutMs: opts.timeoutMs ?? childDeadlineMs('probe', undefined, deadlinePolicy()), code: 'media_unreadable' },
  );
  return JSON.parse(stdout) as Record<string, unknown>;
}

/**
 * What ffmpeg's stderr says failed, as one code per class: the input's data (a demuxer or decoder gave up on
 * the source: `media_unreadable`, whichever pass met it first, the probe or the encode) or anything else
 * (`ffmpeg_failed`: our own arguments, our own files, the machine). Issue 22: the same broken WavPack failed as
 * ffmpeg_failed in one pass and media_unreadable in another. PURE.
 */
export function failureCodeOf(stderr: string): 'media_unreadable' | 'ffmpeg_failed' {
  return INPUT_FAILURE.test(stderr) ? 'media_unreadable' : 'ffmpeg_failed';
}
const INPUT_FAILURE =
  /Invalid data found when processing input|Error while decoding|decoding for stream \d+ failed|could not find codec parameters|Error during demuxing|Header missing|Packet corrupt|invalid (frame|block|packet|header)|Error reading (header|frame|packet)|End of file|Unknown format|no decoder|Decoder \(codec .*\) not found|Failed to read frame/i;

/**
 * A message without the worker's file names: ffmpeg names its input by path (`file:/tmp/omnibatch-.../source`),
 * which means nothing to the owner of the object and tells a reader of failures.jsonl about the worker. PURE.
 */
export function withoutPaths(text: string): string {
  return text.replace(/(?:file:)?(?:\/[^\s/'"|:,\]]+)+\/?/g, 'the file');
}
