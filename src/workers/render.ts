/**
 * A finished file's outputs from its chunk results: stitched text, SRT/VTT cues on the source's timeline,
 * the moderation verdict, and the result JSON. Pure: finalize writes what this returns.
 */
import type { Cost } from '../cost/price.ts';
import type { Usage } from '../models/types.ts';
import { asAssessment, flaggedCategories, mergeVerdicts, providerBlockedVerdict, renderModerationJson } from '../outputs/moderation.ts';
import { moderationBrief, type ModerationBrief } from '../outputs/review-queue.ts';
import { buildResult, type ResultDoc } from '../outputs/result.ts';
import { renderSrt, renderVtt } from '../outputs/subtitles.ts';
import { renderTxt } from '../outputs/txt.ts';
import type { ChunkResult, FileState, RunSpec } from '../runs/types.ts';
import { stitch } from '../stitch/index.ts';
import { TASK_SPECS } from '../tasks/catalog.ts';

export interface RenderInput {
  spec: RunSpec;
  file: FileState;
  durationS: number;
  chunks: readonly ChunkResult[];
  usage: Usage;
  cost: Cost;
  overlapS: number;
  now?: Date;
  /** speak: the one summary of the whole file (the final request's), instead of the chunks' joined */
  summary?: string;
}

export interface Rendered {
  /** extension (after the source key) -> body */
  files: Record<string, { text: string; contentType: string }>;
  result: ResultDoc;
  /** moderation: the categories of a flagged file */
  flagged?: string[];
  /** moderation: the verdict in brief, for the run's review queue */
  moderation?: ModerationBrief;
}

const TYPES: Record<string, string> = {
  txt: 'text/plain; charset=utf-8',
  srt: 'application/x-subrip; charset=utf-8',
  vtt: 'text/vtt; charset=utf-8',
  'moderation.json': 'application/json',
  wav: 'audio/wav',
};

export function renderFileOutputs(input: RenderInput): Rendered {
  const { spec, file, durationS, chunks } = input;
  const ts = TASK_SPECS[spec.task];
  const files: Rendered['files'] = {};
  let text: string;
  let flagged: string[] | undefined;
  let moderation: ModerationBrief | undefined;
  if (spec.task === 'moderate') {
    const verdict = mergeVerdicts(
      chunks.map((c) => {
        const base = { index: c.index, startS: c.startS, endS: c.endS, providerBlocked: c.providerBlocked };
        if (c.providerBlocked) return { ...base, verdict: providerBlockedVerdict(c.endS - c.startS) };
        const { verdict: v, ...review } = asAssessment(c.verdict);
        return { ...base, verdict: v, review };
      }),
      { durationS },
    );
    files['moderation.json'] = { text: renderModerationJson(verdict), contentType: TYPES['moderation.json'] };
    // A result needs non-empty text to be reusable by the next run's scanner.
    text = verdict.summary.trim() || (verdict.flagged ? `flagged: ${flaggedCategories(verdict).join(', ')}` : 'nothing flagged');
    flagged = flaggedCategories(verdict);
    moderation = moderationBrief(verdict);
  } else {
    // Captions describe each clip on its own: keep them as paragraphs. Transcripts read as one text.
    const stitched = stitch(chunks, { durationS, overlapS: input.overlapS, joiner: spec.task === 'caption' ? 'paragraph' : 'space' });
    text = input.summary ?? stitched.text;
    for (const ext of ts.outputs) {
      if (ext === 'txt') files.txt = { text: renderTxt(text), contentType: TYPES.txt };
      if (ext === 'srt') files.srt = { text: renderSrt(stitched.cues, { durationS }), contentType: TYPES.srt };
      if (ext === 'vtt') files.vtt = { text: renderVtt(stitched.cues, { durationS }), contentType: TYPES.vtt };
    }
  }
  const base = file.key.slice(file.key.lastIndexOf('/') + 1);
  const outputs = [...Object.keys(files), ...(ts.wantsAudioOut ? ['wav'] : [])].map((ext) => `${base}.${ext}`);
  const result = buildResult({
    source: { uri: file.uri, key: file.key, etag: file.etag, size: file.size, durationS },
    task: spec.task,
    model: spec.model,
    protocol: spec.protocol,
    region: spec.region,
    fingerprint: spec.fingerprint,
    chunks,
    text,
    outputs,
    createdAt: input.now ?? new Date(),
  });
  return { files, result, ...(flagged && { flagged }), ...(moderation && { moderation }) };
}
