/**
 * A finished file's outputs from its chunk results: stitched text, SRT/VTT cues on the source's timeline,
 * the moderation verdict, and the result JSON. Pure: finalize writes what this returns.
 */
import type { Cost } from '../cost/price.ts';
import { modelOf } from '../models/catalog.ts';
import type { Usage } from '../models/types.ts';
import { asAssessment, flaggedCategories, mergeVerdicts, providerBlockedVerdict, renderModerationJson } from '../outputs/moderation.ts';
import { writtenOutputKey } from '../outputs/naming.ts';
import { buildResult, type ResultDoc } from '../outputs/result.ts';
import { type ModerationBrief, moderationBrief } from '../outputs/review-queue.ts';
import { renderSegmentsJson, renderSrt, renderVtt } from '../outputs/subtitles.ts';
import { renderTxt } from '../outputs/txt.ts';
import type { ChunkResult, FileState, RunSpec } from '../runs/types.ts';
import { stitch } from '../stitch/index.ts';
import { outputKey } from '../storage/keys.ts';
import { TASK_SPECS } from '../tasks/catalog.ts';
import { AUTO_LANGUAGE, dominantLanguage, takeLanguageTag } from '../tasks/language.ts';

export interface RenderInput {
  spec: RunSpec;
  file: FileState;
  durationS: number;
  chunks: readonly ChunkResult[];
  usage: Usage;
  cost: Cost;
  overlapS: number;
  /** each chunk's speech on the source's timeline, by chunk index (prepared.json; absent in older staging) */
  speech?: ReadonlyMap<number, [number, number][]>;
  now?: Date;
  /** speak: the one summary of the whole file (the final request's), instead of the chunks' joined */
  summary?: string;
}

export interface Rendered {
  /** extension -> body and the key it is written under (`<key>.<ext>`, or named by --output-name) */
  files: Record<string, { text: string; contentType: string; key: string }>;
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
  'segments.json': 'application/json',
  'moderation.json': 'application/json',
  wav: 'audio/wav',
};

/** The chunks as the outputs use them: with `--language auto`, the language each named, its tag taken off the text. */
function languageOf(spec: RunSpec, chunks: readonly ChunkResult[]): { chunks: ChunkResult[]; language?: string; source?: 'given' | 'detected' } {
  if (spec.language !== AUTO_LANGUAGE) return { chunks: [...chunks], ...(spec.language && { language: spec.language, source: 'given' as const }) };
  const tagged = chunks.map((c) => ({ ...c, ...takeLanguageTag(c.text) }));
  const language = dominantLanguage(tagged);
  return { chunks: tagged.map(({ language: _, ...c }) => c), ...(language && { language, source: 'detected' as const }) };
}

export function renderFileOutputs(input: RenderInput): Rendered {
  const { spec, file, durationS } = input;
  const ts = TASK_SPECS[spec.task];
  // the entry the run resolved at creation: the result names the catalogue id an alias stood for
  const modelId = modelOf(spec)?.id;
  const lang = languageOf(spec, input.chunks);
  const { chunks } = lang;
  // The outputs' language: the translation's, else the spoken one.
  const outLang = spec.translateTo ?? lang.language;
  const put = (ext: string, text: string): void => {
    files[ext] = { text, contentType: TYPES[ext], key: writtenOutputKey(file.key, ext, { ...spec, textOutputs: ts.outputs }, { language: outLang }) };
  };
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
    files['moderation.json'] = { text: renderModerationJson(verdict), contentType: TYPES['moderation.json'], key: outputKey(file.key, 'moderation.json') };
    // A result needs non-empty text to be reusable by the next run's scanner.
    text = verdict.summary.trim() || (verdict.flagged ? `flagged: ${flaggedCategories(verdict).join(', ')}` : 'nothing flagged');
    flagged = flaggedCategories(verdict);
    moderation = moderationBrief(verdict);
  } else {
    // Captions describe each clip on its own: keep them as paragraphs. Transcripts read as one text.
    // Each chunk's text over its measured speech (media/speech.ts), within the run's subtitle limits.
    const timed = chunks.map((c) => {
      const speech = input.speech?.get(c.index);
      return speech ? { ...c, speech } : c;
    });
    const limits = spec.subtitles ?? {};
    const stitched = stitch(timed, {
      durationS,
      overlapS: input.overlapS,
      joiner: spec.task === 'caption' ? 'paragraph' : 'space',
      ...(limits.maxLineChars !== undefined && { maxLineWidth: limits.maxLineChars }),
      ...(limits.maxLines !== undefined && { maxLines: limits.maxLines }),
      ...(limits.maxCueSeconds !== undefined && { maxCueS: limits.maxCueSeconds }),
      ...(limits.maxCps !== undefined && { maxCps: limits.maxCps }),
    });
    text = input.summary ?? stitched.text;
    for (const ext of ts.outputs) {
      if (ext === 'txt') put('txt', renderTxt(text));
      if (ext === 'srt') put('srt', renderSrt(stitched.cues, { durationS }));
      if (ext === 'vtt') put('vtt', renderVtt(stitched.cues, { durationS }));
      if (ext === 'segments.json') put('segments.json', renderSegmentsJson(stitched.cues, { durationS, ...(outLang && { language: outLang }) }));
    }
  }
  const base = (key: string): string => key.slice(key.lastIndexOf('/') + 1);
  const outputs = [...Object.values(files).map((f) => base(f.key)), ...(ts.wantsAudioOut ? [`${base(file.key)}.wav`] : [])];
  const result = buildResult({
    source: { uri: file.uri, key: file.key, etag: file.etag, size: file.size, durationS },
    task: spec.task,
    model: spec.model,
    ...(modelId && { modelId }),
    protocol: spec.protocol,
    region: spec.region,
    fingerprint: spec.fingerprint,
    chunks,
    ...(lang.language && { language: lang.language, languageSource: lang.source }),
    ...(spec.translateTo && { translatedTo: spec.translateTo }),
    text,
    outputs,
    createdAt: input.now ?? new Date(),
  });
  return { files, result, ...(flagged && { flagged }), ...(moderation && { moderation }) };
}
