/**
 * Benchmark: the CPU cost of preparing captioner chunks (probe + silence map + encode + split + measure)
 * against ONE bare ffmpeg command that produces the same encoded segments (same codec, bitrate and cut
 * times) and does nothing else. Target: at most 1.2x. Also the peak memory of the Node process and of
 * the largest ffmpeg/ffprobe child.
 *
 *   node --import tsx bench/prep.ts [--quick]      (1 hour of audio; --quick: 10 minutes)
 *
 * Prints one JSON line and writes bench/results/prep.json (--quick: bench/results/quick/prep.json).
 *
 * CPU is user+sys of the child processes (from /proc/self/stat's cutime/cstime: every waited-for child),
 * plus this process's own CPU during prepareChunks (planning, parsing, spawning): nothing is left out.
 * Both sides run after one warm-up prepareChunks on a 20 s file (a worker is a long-running process).
 * The source is WAV: decoding it is free, so the fixed costs (probe, silence map, split) weigh the most.
 */
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { encodeArgs, segmentArgs } from '../src/media/encode-args.ts';
import { runFfmpeg } from '../src/media/ffmpeg.ts';
import { prepareChunks } from '../src/media/prepare.ts';
import { findModel } from '../src/models/catalog.ts';
import { TASK_SPECS } from '../src/tasks/catalog.ts';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const TARGET = 1.2;

/** CPU seconds of waited-for children (fields 16-17 of /proc/self/stat, in clock ticks of 1/100 s). */
async function childrenCpuS(): Promise<number> {
  const stat = await readFile('/proc/self/stat', 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[13]) + Number(fields[14])) / 100;
}
const selfCpuS = (): number => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};

/** Samples the peak RSS (VmHWM) of every child process while `fn` runs. */
async function withChildPeak<T>(fn: () => Promise<T>): Promise<{ value: T; peakKb: number }> {
  let peakKb = 0;
  const sample = async (): Promise<void> => {
    const kids = await readFile(`/proc/self/task/${process.pid}/children`, 'utf8').catch(() => '');
    for (const pid of kids.split(/\s+/).filter(Boolean)) {
      const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
      const m = /VmHWM:\s+(\d+) kB/.exec(status);
      if (m) peakKb = Math.max(peakKb, Number(m[1]));
    }
  };
  const timer = setInterval(() => void sample(), 100);
  try {
    const value = await fn();
    return { value, peakKb };
  } finally {
    clearInterval(timer);
  }
}

async function measure<T>(fn: () => Promise<T>): Promise<{ value: T; cpuS: number; childCpuS: number; selfCpuS: number; wallS: number; childPeakKb: number }> {
  const c0 = await childrenCpuS();
  const s0 = selfCpuS();
  const t0 = performance.now();
  const { value, peakKb } = await withChildPeak(fn);
  const wallS = (performance.now() - t0) / 1000;
  const child = (await childrenCpuS()) - c0;
  const self = selfCpuS() - s0;
  return { value, cpuS: child + self, childCpuS: child, selfCpuS: self, wallS, childPeakKb: peakKb };
}

/** Speech-like stereo 44.1 kHz audio: pink noise and a tone, with pauses of 0.4-1.2 s at irregular intervals. */
async function generate(file: string, seconds: number): Promise<void> {
  const gate = 'if(lt(mod(t,7.3),0.6)+lt(mod(t,17.9),1.2)+lt(mod(t,29.3),0.4),0,1)';
  await runFfmpeg([
    '-v',
    'error',
    '-f',
    'lavfi',
    '-i',
    `anoisesrc=r=44100:a=0.25:c=pink:d=${seconds}`,
    '-f',
    'lavfi',
    '-i',
    `sine=f=220:r=44100:d=${seconds}`,
    '-filter_complex',
    `[0][1]amix=inputs=2,volume='${gate}':eval=frame,pan=stereo|c0=c0|c1=0.9*c0`,
    '-c:a',
    'pcm_s16le',
    '-y',
    file,
  ]);
}

export async function runPrep(opts: { quick: boolean }): Promise<Record<string, unknown>> {
  const seconds = opts.quick ? 600 : 3600;
  const root = await mkdtemp(path.join(os.tmpdir(), 'omnibatch-bench-prep-'));
  try {
    const src = path.join(root, 'source.wav');
    await generate(src, seconds);
    const model = findModel('qwen3-omni-30b-a3b-captioner')!;
    const caption = TASK_SPECS.caption;
    const policy = { ...caption.policy, mode: 'audio' as const, inputMode: 'base64' as const };

    // Warm up once on a short file, as a long-running worker would be: JIT and module start-up are not per-file costs.
    const warm = path.join(root, 'warm.wav');
    await generate(warm, 20);
    await prepareChunks(warm, model, policy, { outDir: path.join(root, 'warm'), tmpDir: root });

    // Alternate the two a few times and keep each one's best: other work on the machine only ever adds CPU time.
    const rounds = opts.quick ? 2 : 3;
    type Run<T> = Awaited<ReturnType<typeof measure<T>>>;
    let ours: Run<Awaited<ReturnType<typeof prepareChunks>>> | undefined;
    let bare: Run<unknown> | undefined;
    const oursAll: number[] = [];
    const bareAll: number[] = [];
    for (let r = 0; r < rounds; r++) {
      await rm(path.join(root, 'ours'), { recursive: true, force: true });
      const o = await measure(() => prepareChunks(src, model, policy, { outDir: path.join(root, 'ours'), tmpDir: root }));
      oursAll.push(round(o.cpuS));
      if (!ours || o.cpuS < ours.cpuS) ours = o;
      const { plan, chunks } = o.value;
      // The same segments from one bare command: same encoder settings, same cut times on the encoder's timeline.
      const delayS = 1105 / plan.encode.sampleRate; // libmp3lame's priming, as the encoded file's LAME tag reports it
      const times = chunks.slice(1).map((c) => c.startS + delayS);
      await rm(path.join(root, 'bare'), { recursive: true, force: true });
      await mkdir(path.join(root, 'bare'));
      const b = await measure(() =>
        runFfmpeg(['-v', 'error', '-nostats', ...encodeArgs(`file:${src}`, plan.encode), ...segmentArgs(plan.encode, times, 'seg-%05d.mp3', 'list.csv')], {
          cwd: path.join(root, 'bare'),
        }),
      );
      bareAll.push(round(b.cpuS));
      if (!bare || b.cpuS < bare.cpuS) bare = b;
    }
    if (!ours || !bare) throw new Error('no rounds ran');
    const { plan, chunks } = ours.value;
    const bareFiles = (await readdir(path.join(root, 'bare'))).filter((f) => f.endsWith('.mp3'));
    const bareBytes = (await Promise.all(bareFiles.map((f) => stat(path.join(root, 'bare', f)).then((s) => s.size)))).reduce((a, b) => a + b, 0);
    const ourBytes = chunks.reduce((a, c) => a + c.bytes, 0);

    const ratio = Math.round((ours.cpuS / bare.cpuS) * 1000) / 1000;
    const result = {
      scenario: 'prep',
      metric: 'cpu_ratio',
      value: ratio,
      target: TARGET,
      pass: ratio <= TARGET,
      quick: opts.quick,
      source: { seconds, format: 'wav pcm_s16le 44.1 kHz stereo', bytes: (await stat(src)).size },
      encode: `${plan.encode.format} ${plan.encode.sampleRate} Hz mono ${plan.encode.audioBitrateKbps} kbps`,
      chunks: chunks.length,
      rounds: { ours: oursAll, bare: bareAll },
      ours: {
        cpuS: round(ours.cpuS),
        childCpuS: round(ours.childCpuS),
        selfCpuS: round(ours.selfCpuS),
        wallS: round(ours.wallS),
        bytes: ourBytes,
        childPeakRssMb: mb(ours.childPeakKb),
      },
      bare: {
        cpuS: round(bare.cpuS),
        childCpuS: round(bare.childCpuS),
        selfCpuS: round(bare.selfCpuS),
        wallS: round(bare.wallS),
        bytes: bareBytes,
        segments: bareFiles.length,
        childPeakRssMb: mb(bare.childPeakKb),
      },
      nodePeakRssMb: mb(process.resourceUsage().maxRSS),
      cpus: os.cpus().length,
      node: process.version,
      at: new Date().toISOString(),
    };
    // A quick run never overwrites the recorded full figures (the runner's convention).
    const dir = opts.quick ? path.join(HERE, 'results', 'quick') : path.join(HERE, 'results');
    await mkdir(dir, { recursive: true });
    await writeFile(path.join(dir, 'prep.json'), `${JSON.stringify(result, null, 2)}\n`);
    return result;
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}

const round = (n: number): number => Math.round(n * 1000) / 1000;
const mb = (kb: number): number => Math.round(kb / 102.4) / 10;

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const result = await runPrep({ quick: process.argv.includes('--quick') });
  process.stdout.write(`${JSON.stringify(result)}\n`);
}
