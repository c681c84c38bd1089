/**
 * Measuring helpers: a progress series sampled while a run goes (for steady-state rates), CPU time of a
 * process from /proc, and peak RSS sampling of a process tree.
 */
import { readFile } from 'node:fs/promises';

export interface Sample {
  t: number;
  done: number;
}

/**
 * Steady-state rate from a series of (time, items done): items per second between the moments `from` and
 * `to` (fractions of the total) were reached. Ramp-up (the first results need a whole pipeline pass) and
 * drain (the last requests run with the pool half empty) are outside the window. Pure.
 */
export function steadyRate(series: readonly Sample[], total: number, from = 0.1, to = 0.9): { rate: number; windowS: number; items: number } {
  const at = (frac: number): Sample | undefined => series.find((s) => s.done >= Math.ceil(total * frac));
  const a = at(from);
  const b = at(to);
  if (!a || !b || b.t <= a.t) return { rate: 0, windowS: 0, items: 0 };
  const windowS = (b.t - a.t) / 1000;
  return { rate: (b.done - a.done) / windowS, windowS, items: b.done - a.done };
}

/** user+sys CPU seconds of a live process and of its waited-for children (ffmpeg, ffprobe), from /proc (1/100 s ticks). */
export async function processCpu(pid: number): Promise<{ selfS: number; childrenS: number }> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
  if (!stat) return { selfS: 0, childrenS: 0 };
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // fields 14-17: utime, stime, cutime, cstime
  return { selfS: (Number(f[11]) + Number(f[12])) / 100, childrenS: (Number(f[13]) + Number(f[14])) / 100 };
}

/** Both of the above, summed. */
export async function processCpuS(pid: number): Promise<number> {
  const c = await processCpu(pid);
  return c.selfS + c.childrenS;
}

/** CPU seconds of this process and of its waited-for children. */
export async function selfCpuS(): Promise<number> {
  return processCpuS(process.pid);
}

async function status(pid: number): Promise<Record<string, number>> {
  const text = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
  const out: Record<string, number> = {};
  for (const m of text.matchAll(/^(VmRSS|VmHWM):\s+(\d+) kB/gm)) out[m[1]] = Number(m[2]);
  return out;
}

async function children(pid: number): Promise<number[]> {
  const text = await readFile(`/proc/${pid}/task/${pid}/children`, 'utf8').catch(() => '');
  return text.split(/\s+/).filter(Boolean).map(Number);
}

/** Every process below `pid`: ffmpeg runs under its guards (setpriv, timeout), so it is a grandchild. */
export async function descendants(pid: number): Promise<number[]> {
  const out: number[] = [];
  for (let level = await children(pid); level.length; ) {
    out.push(...level);
    level = (await Promise.all(level.map(children))).flat();
  }
  return out;
}

/**
 * Samples a process's peak RSS (VmHWM, the kernel's own high-water mark, so nothing between samples is
 * missed) and the largest any of its descendants reached while sampled (ffmpeg, ffprobe, under their guards).
 */
export function watchMemory(pid: number, everyMs = 100): { stop(): Promise<{ peakMb: number; childPeakMb: number }> } {
  let peakKb = 0;
  let childPeakKb = 0;
  let busy = false;
  const tick = async () => {
    if (busy) return;
    busy = true;
    try {
      const s = await status(pid);
      peakKb = Math.max(peakKb, s.VmHWM ?? 0, s.VmRSS ?? 0);
      for (const c of await descendants(pid)) {
        const cs = await status(c);
        childPeakKb = Math.max(childPeakKb, cs.VmHWM ?? 0, cs.VmRSS ?? 0);
      }
    } finally {
      busy = false;
    }
  };
  const timer = setInterval(() => void tick(), everyMs);
  return {
    async stop() {
      clearInterval(timer);
      await tick();
      return { peakMb: Math.round(peakKb / 102.4) / 10, childPeakMb: Math.round(childPeakKb / 102.4) / 10 };
    },
  };
}
