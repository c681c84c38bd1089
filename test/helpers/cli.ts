/**
 * The CLI as a real process, for the tests that drive it: `node bin/omnibatch.js ...` (or another entry, such as
 * the emulator command's own runner), either run to its end with its output and exit code collected, or started
 * and watched while it serves.
 */
import { type ChildProcessWithoutNullStreams, execFile, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import path from 'node:path';
import { promisify } from 'node:util';
import { inject } from 'vitest';
import { REPO_ROOT } from './paths.ts';
import { dropKeys, testRedis } from './redis.ts';

export const BIN = path.join(REPO_ROOT, 'bin/omnibatch.js');
/**
 * What `node` starts for a command: the run's CLI bundle (test/global-setup.ts: the same sources, half the start-up),
 * or bin/omnibatch.js where there is none (a test file run outside the integration project).
 */
export const CLI_ENTRY: string = inject('cliBundle') ?? BIN;
/** Node's arguments for `omnibatch emulator` alone (test/emulator/cli-runner.ts), so its test needs no other command. */
export const EMULATOR_ENTRY = ['--import', 'tsx', path.join(REPO_ROOT, 'test/emulator/cli-runner.ts')];

export interface CliOptions {
  /** added to the environment; an undefined value takes the variable out */
  env?: Record<string, string | undefined>;
  /** the environment `env` is added to (default: this process's) */
  baseEnv?: NodeJS.ProcessEnv;
  /** default: the repository root */
  cwd?: string;
  /** node's arguments before the command's (default: [CLI_ENTRY]) */
  entry?: string[];
}

export interface CliResult {
  /** null when a signal ended it (as after the timeout) */
  code: number | null;
  stdout: string;
  stderr: string;
}

function environment(opts: CliOptions): NodeJS.ProcessEnv {
  const env = { ...(opts.baseEnv ?? process.env), ...opts.env };
  for (const [k, v] of Object.entries(env)) if (v === undefined) delete env[k];
  return env;
}

/** The process, stdin closed, stdout and stderr piped (read them, or the child may block on a full pipe). */
export function spawnCli(args: string[], opts: CliOptions = {}): ChildProcessWithoutNullStreams {
  return spawn(process.execPath, [...(opts.entry ?? [CLI_ENTRY]), ...args], {
    cwd: opts.cwd ?? REPO_ROOT,
    env: environment(opts),
    stdio: ['ignore', 'pipe', 'pipe'],
  }) as unknown as ChildProcessWithoutNullStreams;
}

export interface RunningCli {
  child: ChildProcessWithoutNullStreams;
  /** what it has written so far */
  output: { stdout: string; stderr: string };
  /** its exit code (null after a signal) once it has ended and its output is all read */
  closed: Promise<number | null>;
  /** the first match of `re` in what the stream has carried; rejects if the process ends first or `timeoutMs` pass */
  waitFor(stream: 'stdout' | 'stderr', re: RegExp, timeoutMs?: number): Promise<RegExpExecArray>;
  /** sends `signal` unless it has ended already; then as `closed` */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/** Starts the command and collects its output as it runs. */
export function startCli(args: string[], opts: CliOptions = {}): RunningCli {
  const child = spawnCli(args, opts);
  const output = { stdout: '', stderr: '' };
  for (const s of ['stdout', 'stderr'] as const) {
    child[s].setEncoding('utf8');
    child[s].on('data', (d: string) => {
      output[s] += d;
    });
  }
  let isClosed = false;
  const closed = once(child, 'close').then(([code]) => {
    isClosed = true;
    return code as number | null;
  });
  closed.catch(() => undefined); // a spawn error reaches whoever awaits `closed`
  const waitFor = (stream: 'stdout' | 'stderr', re: RegExp, timeoutMs = 30_000) =>
    new Promise<RegExpExecArray>((resolve, reject) => {
      let settled = false;
      const settle = (f: () => void) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        child[stream].off('data', check);
        child.off('close', ended);
        f();
      };
      const check = () => {
        const m = re.exec(output[stream]);
        if (m) settle(() => resolve(m));
      };
      const ended = (code: number | null) => settle(() => reject(new Error(`ended (${code}) before ${re} on ${stream}: ${output.stdout}${output.stderr}`)));
      const timer = setTimeout(
        () => settle(() => reject(new Error(`no ${re} on ${stream} within ${timeoutMs} ms: ${output.stdout}${output.stderr}`))),
        timeoutMs,
      );
      child[stream].on('data', check);
      child.once('close', ended);
      check();
      if (isClosed) ended(child.exitCode);
    });
  return {
    child,
    output,
    closed,
    waitFor,
    stop: (signal = 'SIGTERM') => {
      if (!isClosed && child.exitCode === null && child.signalCode === null) child.kill(signal);
      return closed;
    },
  };
}

/** Runs the command to its end (killed after `timeoutMs`): its exit code and everything it wrote; never throws on a failing exit. */
export async function runCli(args: string[], opts: CliOptions & { timeoutMs?: number } = {}): Promise<CliResult> {
  const run = startCli(args, opts);
  const timer = setTimeout(() => run.child.kill('SIGKILL'), opts.timeoutMs ?? 120_000);
  try {
    const code = await run.closed;
    return { code, ...run.output };
  } finally {
    clearTimeout(timer);
  }
}

/**
 * The environment of a CLI test that must not reach anything but loopback: its own Redis prefix and temp
 * folder, silent logs, and a model endpoint on a port nothing listens on.
 */
export function offlineEnv(name: string, tmp: string): Record<string, string> {
  return {
    OMNIBATCH_PREFIX: `${name}-${randomUUID().slice(0, 8)}`,
    LOG_LEVEL: 'silent',
    OMNIBATCH_TMP: path.join(tmp, 'work'),
    OMNI_BASE_URL: 'http://127.0.0.1:9/compatible-mode/v1',
    OMNI_API_KEY: `sk-${name}`,
  };
}

/** A silent 8 kHz mono MP3 of `seconds` (8 kbps: an hour is 3.6 MB), for tests that only probe or plan. */
export async function silentMp3(file: string, seconds: number): Promise<void> {
  const args = ['-v', 'error', '-y', '-f', 'lavfi', '-i', 'anullsrc=r=8000:cl=mono', '-t', String(seconds), '-c:a', 'libmp3lame', '-b:a', '8k', file];
  await promisify(execFile)('ffmpeg', args, { timeout: 60_000 });
}

/** Deletes what a CLI test left in Redis under its prefix (offlineEnv's OMNIBATCH_PREFIX). */
export async function dropPrefix(prefix: string): Promise<void> {
  const r = testRedis();
  try {
    await dropKeys(r, prefix);
  } finally {
    r.disconnect();
  }
}
