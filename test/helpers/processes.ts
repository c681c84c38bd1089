/**
 * The processes a test started, found by a unique mark in their command line (reads /proc: no pgrep needed).
 * Tests wait on them with `expect.poll`, never with a fixed sleep.
 */
import { readdirSync, readFileSync } from 'node:fs';

export interface Proc {
  pid: number;
  /** the executable's name (/proc/<pid>/comm): `ffmpeg`, `sleep`, `sh` */
  comm: string;
  /** the command line, arguments joined by spaces */
  cmd: string;
}

/**
 * Live processes (zombies left out: a reparented child may wait long for its reaper) other than this one whose
 * command line contains `needle`.
 */
export function processesWith(needle: string): Proc[] {
  const out: Proc[] = [];
  for (const d of readdirSync('/proc').filter((e) => /^\d+$/.test(e))) {
    if (Number(d) === process.pid) continue;
    try {
      const cmd = readFileSync(`/proc/${d}/cmdline`, 'utf8').replace(/\0/g, ' ');
      if (!cmd.includes(needle)) continue;
      const state = readFileSync(`/proc/${d}/stat`, 'utf8').replace(/^.*\) /s, '')[0];
      if (state !== 'Z') out.push({ pid: Number(d), comm: readFileSync(`/proc/${d}/comm`, 'utf8').trim(), cmd });
    } catch {
      /* gone */
    }
  }
  return out;
}

/** The names of the executables running with `needle` in their command line: poll it for `ffmpeg` to appear or leave. */
export const commsWith = (needle: string): string[] => processesWith(needle).map((p) => p.comm);
