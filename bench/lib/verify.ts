/**
 * What the chaos scenarios assert about a run's outputs: one result per source, no text twice, nothing left
 * in staging, and the ledger against the emulator's billing.
 */
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import type { Harness } from './harness.ts';

export interface ResultDoc {
  text: string;
  chunks: { index: number; text: string; usage?: { input?: { audio?: number } } }[];
  usage: { input: { audio: number } };
}

/** Every file under `dir` (relative paths), except the run folders. */
export async function listOutputs(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string, rel: string, depth: number): Promise<void> => {
    if (depth > 20) return;
    for (const e of await readdir(d, { withFileTypes: true }).catch(() => [])) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) await walk(path.join(d, e.name), r, depth + 1);
      else out.push(r);
    }
  };
  await walk(dir, '', 0);
  return out.sort();
}

/** The emulator's captioner answer starts with this once per request it answered. */
const ANSWER_MARK = /Audio clip, /g;

export interface OutputCheck {
  results: number;
  /** results whose text holds a chunk's answer more or fewer times than it has chunks */
  textTwice: string[];
  /** results whose chunk indices are not exactly 0..n-1 */
  badChunks: string[];
  /** leftover staging objects */
  staging: number;
  stagingKeys: string[];
  chunks: number;
  maxChunkAudioTokens: number;
  docs: Map<string, ResultDoc>;
}

export async function checkOutputs(outDir: string): Promise<OutputCheck> {
  const files = await listOutputs(outDir);
  // result documents only: not the .segments.json / .moderation.json / .review.json sidecars beside them
  const results = files.filter((f) => /(?<!\.(segments|moderation|review))\.json$/.test(f) && !f.startsWith('_runs/') && !f.startsWith('_staging/'));
  const c: OutputCheck = {
    results: results.length,
    textTwice: [],
    badChunks: [],
    staging: files.filter((f) => f.startsWith('_staging/')).length,
    stagingKeys: files.filter((f) => f.startsWith('_staging/')).slice(0, 12),
    chunks: 0,
    maxChunkAudioTokens: 0,
    docs: new Map(),
  };
  for (const f of results) {
    const doc = JSON.parse(await readFile(path.join(outDir, f), 'utf8')) as ResultDoc;
    c.docs.set(f, doc);
    c.chunks += doc.chunks.length;
    const marks = doc.text.match(ANSWER_MARK)?.length ?? 0;
    if (marks !== doc.chunks.length) c.textTwice.push(`${f}: ${marks} answers for ${doc.chunks.length} chunks`);
    if (doc.chunks.some((ch, i) => ch.index !== i)) c.badChunks.push(f);
    for (const ch of doc.chunks) c.maxChunkAudioTokens = Math.max(c.maxChunkAudioTokens, ch.usage?.input?.audio ?? 0);
  }
  return c;
}

/** The run's ledger (audio input tokens, chunks) against what the emulator billed for completed requests. */
export async function ledgerVsBilling(
  h: Harness,
  runId: string,
  model: string,
): Promise<{ ledgerAudio: number; billedAudio: number; diff: number; ledgerChunks: number; completed: number }> {
  const t = await h.ctx.costs.totals(runId);
  const s = h.emulator.stats();
  const billedAudio = s.billed[model]?.input.audio ?? 0;
  return { ledgerAudio: t.usage.input.audio, billedAudio, diff: billedAudio - t.usage.input.audio, ledgerChunks: t.chunks, completed: s.completed };
}
