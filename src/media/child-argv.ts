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
 * A guard whose binary is missing is left out; the others still apply.
 */

/** The guard binaries found on this machine (ffmpeg.ts detects them once); undefined = not available. */
export interface ChildGuards {
  setpriv?: string;
  timeout?: string;
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
  opts: { deadlineMs: number; graceMs: number; guards: ChildGuards },
): { file: string; args: string[] } {
  const { setpriv, timeout } = opts.guards;
  const dieWithParent = (rest: string[]): string[] => (setpriv ? [setpriv, '--pdeathsig', 'SIGKILL', '--', ...rest] : rest);
  let argv = dieWithParent([bin, ...args]);
  if (timeout) argv = dieWithParent([timeout, '-s', 'KILL', String(orphanBoundS(opts.deadlineMs, opts.graceMs)), ...argv]);
  return { file: argv[0], args: argv.slice(1) };
}
