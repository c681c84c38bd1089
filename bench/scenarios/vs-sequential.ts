/**
 * vs-sequential: the way the sample code in ../shared/seeds/ works against the pipeline, on the same 100 files,
 * emulator latency 500 ms.
 *
 * The seeds' way (their Python, in Node): for each file in turn, read it whole into memory, base64 it into a
 * `data:;base64,` URL, POST one streaming chat completion, read the SSE stream to the end, write the text.
 * One file, one request, at a time. The pipeline: one worker process, infer concurrency 8 (the default), from
 * `run` to the run's final status (scan, prepare, infer, finalize, report included).
 * Reference: the sequential wall time. Target: speedup >= 0.9 x infer concurrency.
 *
 * Files: 100 clips of 10 s (mp3, 16 kHz mono: what the seed code can send as is). --quick times the sequential
 * way on 25 of them and scales by 4 (it is one request after another by construction: its time is linear in
 * the count); the pipeline still does all 100.
 */
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { BENCH_API_KEY, withHarness } from '../lib/harness.ts';
import { distinctClips, replicate } from '../lib/media.ts';
import { timedRun } from '../lib/pipeline.ts';
import { check, result, round, type ScenarioResult } from '../lib/result.ts';

const MODEL = 'qwen3-omni-30b-a3b-captioner';

/** seed 003's loop, one file: whole file in memory -> base64 -> one streamed request -> text. */
async function seedWay(baseUrl: string, file: string): Promise<string> {
  const b64 = (await readFile(file)).toString('base64');
  const res = await fetch(`${baseUrl}/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${BENCH_API_KEY}` },
    body: JSON.stringify({
      model: MODEL,
      messages: [{ role: 'user', content: [{ type: 'input_audio', input_audio: { data: `data:;base64,${b64}` } }] }],
      stream: true,
      stream_options: { include_usage: true },
    }),
  });
  if (!res.ok) throw new Error(`HTTP ${res.status}: ${await res.text()}`);
  let text = '';
  for (const line of (await res.text()).split('\n')) {
    if (!line.startsWith('data: ') || line === 'data: [DONE]') continue;
    const j = JSON.parse(line.slice(6)) as { choices?: { delta?: { content?: string } }[] };
    text += j.choices?.[0]?.delta?.content ?? '';
  }
  return text;
}

export async function run(opts: { quick: boolean }): Promise<ScenarioResult> {
  const files = 100;
  const concurrency = 8;
  const latencyMs = 500;
  const sequentialSample = opts.quick ? 25 : files;
  return withHarness({ name: 'vs-sequential', emulator: { latencyMs } }, async (h) => {
    const src = path.join(h.tmp, 'in');
    const templates = await distinctClips(path.join(h.tmp, 'templates'), 8, { seconds: 10, ext: 'mp3', rate: 16_000, channels: 1, kbps: 64 });
    await replicate(templates, files, src);
    const keys = (await readdir(src)).sort();

    // The sequential way first (the pipeline's worker is not started yet: nothing else runs).
    const seqOut = path.join(h.tmp, 'seq-out');
    await mkdir(seqOut, { recursive: true });
    const t0 = performance.now();
    for (const key of keys.slice(0, sequentialSample)) {
      const text = await seedWay(`${h.emulator.url}/compatible-mode/v1`, path.join(src, key));
      await writeFile(path.join(seqOut, `${key}.txt`), text);
    }
    const seqMeasuredS = (performance.now() - t0) / 1000;
    const seqS = seqMeasuredS * (files / sequentialSample);
    const seqRequests = h.emulator.stats().requests;

    h.spawnWorker(['--infer-concurrency', String(concurrency)]);
    await sleep(2500); // boot: a long-running worker is already up when a run is submitted
    const run = await timedRun(h, { source: src, destination: path.join(h.tmp, 'out'), task: 'caption' }, { files, timeoutMs: 600_000, pollMs: 25 });
    const speedup = seqS / run.wallS;
    return result(
      'vs-sequential',
      'speedup_over_sequential',
      [check('speedup', speedup, '>=', 0.9 * concurrency), check('files_succeeded', run.state.counts.succeeded, '==', files)],
      {
        targetSpeedup: 0.9 * concurrency,
        files,
        concurrency,
        latencyMs,
        sequential: {
          wallS: round(seqS, 2),
          measuredFiles: sequentialSample,
          measuredS: round(seqMeasuredS, 2),
          perFileS: round(seqMeasuredS / sequentialSample, 3),
          requests: seqRequests,
        },
        pipeline: {
          wallS: round(run.wallS, 2),
          idealS: round((files / concurrency) * (latencyMs / 1000), 2),
          firstRequestAfterS: round(run.rampS, 3),
          runEndAfterLastAnswerS: round(run.tailS, 3),
          failures: run.failures,
        },
      },
      opts.quick,
    );
  });
}
