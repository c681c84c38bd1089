/**
 * The command line of every ffmpeg/ffprobe child, with the guards that end it when its worker is gone. PURE.
 *
 * Why (docs/operations.md "Limits"): the worker kills its children's process groups on their deadline, on a
 * cancel, on shutdown and on exit, but a worker that dies of SIGKILL (the OOM killer, `kill -9`, a container
 * stopped past its grace) runs none of that, and its ffmpeg would run on, reparented, until its own end: a
 * hostile file can make that hours. So each child is started under two guards the kernel and a tiny process
 * enforce without the worker:
 *  - `setpriv --pdeathsig SIGKILL` (util-linux, Linux only): the kernel sends SIGKILL to the child when the
 *    thread that started it exits. libuv forks from the event-loop thread, which exits only with the process;
 *    setpriv sets it and execs, so the child is the same process and keeps it across the exec;
 *  - `timeout -s KILL <s>` (coreutils): the child's own deadline, past the worker's (which stops it cleanly
 *    with SIGTERM first and reports `media_timeout`), so it binds only when nobody is left to enforce that one.
 * With both, the chain is `setpriv -- timeout -- setpriv -- ffmpeg`: timeout forks (the death signal is not
 * inherited across fork), so the outer setpriv binds timeout to the worker and the inner one ffmpeg to timeout.
 *  - `prlimit --as=<bytes>` (util-linux): the child's address space (RLIMIT_AS), so a file whose frames need
 *    more memory than a worker may give one child fails its decode (`get_buffer() failed`, limits.ts
 *    memoryRefusal: `media_too_costly`) instead of growing until the OOM killer picks a process. prlimit sets
 *    the limit on itself and execs, so the child is the process that carries it (the death signal too).
 * A guard whose binary is missing is left out; the others still apply.
 *
 * The child's environment is built here too (childEnv): only PATH, the locale and the temp directory. A
 * worker's environment holds OMNI_API_KEY, OMNIBATCH_WEBHOOK_SECRET and AWS_*; a decoder of a stranger's file
 * has no use for them, and `/proc/<pid>/environ` of a child would show them to anything that reads it.
 */

/** The guard binaries found on this machine (ffmpeg.ts detects them once); undefined = not available. */
export interface ChildGuards {
  setpriv?: string;
  timeout?: string;
  prlimit?: string;
}

/** How far past the worker's own deadline plus its kill grace the orphan bound lies. */
export const ORPHAN_MARGIN_MS = 5_000;

/** The orphan bound, in whole seconds: the worker's deadline, its SIGTERM-to-SIGKILL grace and a margin. */
export function orphanBoundS(deadlineMs: number, graceMs: number): number {
  return Math.ceil((deadlineMs + graceMs + ORPHAN_MARGIN_MS) / 1000);
}

/** The file to spawn and its arguments: `bin args...` behind whichever guards are available. */
export function childArgv(
  bin: string,
  args: readonly string[],
  opts: { deadlineMs: number; graceMs: number; guards: ChildGuards /** RLIMIT_AS of the child, bytes */; memoryBytes?: number },
): { file: string; args: string[] } {
  const { setpriv, timeout, prlimit } = opts.guards;
  const dieWithParent = (rest: string[]): string[] => (setpriv ? [setpriv, '--pdeathsig', 'SIGKILL', '--', ...rest] : rest);
  const bounded = prlimit && opts.memoryBytes ? [prlimit, `--as=${Math.floor(opts.memoryBytes)}`, '--', bin, ...args] : [bin, ...args];
  let argv = dieWithParent(bounded);
  if (timeout) argv = dieWithParent([timeout, '-s', 'KILL', String(orphanBoundS(opts.deadlineMs, opts.graceMs)), ...argv]);
  return { file: argv[0], args: argv.slice(1) };
}

/** Variables a child keeps: the search path, the locale, the temp directory. Nothing else reaches it. */
const CHILD_ENV = /^(PATH|LANG|LANGUAGE|LC_[A-Z]+|TMPDIR|TMP|TEMP)$/;

/** The environment of every ffmpeg/ffprobe child: PATH, locale and temp dir of `env`, nothing else. PURE. */
export function childEnv(env: Readonly<Record<string, string | undefined>>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) if (v !== undefined && CHILD_ENV.test(k)) out[k] = v;
  return out;
}
