/**
 * `--output-name`: the names of a file's text outputs (txt, srt, vtt, segments.json), so players pick up the
 * sidecars (`talk.en.srt` beside `talk.mp4`). `{name}` is the source's file name without its extension, `{lang}`
 * the output's language (tasks/language.ts: `und` when none is known), `{ext}` the output's extension. The result
 * JSON keeps its own name (`<key>.json`): it is what the next run's scanner looks for. Pure.
 */
import { assertKey, outputKey } from '../storage/keys.ts';
import { UNDETERMINED } from '../tasks/language.ts';
import { OmniError } from '../util/errors.ts';

const TOKENS = new Set(['name', 'lang', 'ext']);

/** Refuses a template that could not name every output apart or could leave the source's folder. */
export function checkOutputName(template: string): string {
  const bad = (why: string) => new OmniError('invalid_argument', `--output-name ${JSON.stringify(template)}: ${why}`);
  for (const m of template.matchAll(/\{([^}]*)\}/gu)) if (!TOKENS.has(m[1])) throw bad(`unknown placeholder {${m[1]}} (use {name}, {lang}, {ext})`);
  if (!template.includes('{name}') || !template.includes('{ext}')) throw bad('it needs {name} and {ext}');
  if (/[/\\]/u.test(template) || template.includes('..')) throw bad('a name, not a path');
  return template;
}

/** The storage key of one output of `key` (its folder kept); the default is `<key>.<ext>`. */
export function namedOutputKey(key: string, ext: string, template: string | undefined, lang: string): string {
  if (!template) return outputKey(key, ext);
  const slash = key.lastIndexOf('/');
  const dir = key.slice(0, slash + 1);
  const base = key.slice(slash + 1);
  const dot = base.lastIndexOf('.');
  const name = dot > 0 ? base.slice(0, dot) : base;
  return assertKey(dir + template.replace(/\{(name|lang|ext)\}/gu, (_, t: string) => (t === 'name' ? name : t === 'lang' ? lang : ext)));
}

/**
 * Where a finished file's output `ext` was written: the text outputs of a task other than moderate by
 * `--output-name` (render.ts), in the outputs' language as the result records it (the translation's, else the
 * spoken one: given or detected, else `und`); every other output (the result, moderation.json, a review, the
 * speech) at `<key>.<ext>`. Pure: the dashboard finds the sidecars a run wrote from the run and the result.
 */
export function writtenOutputKey(
  key: string,
  ext: string,
  run: { task: string; outputName?: string; textOutputs: readonly string[] },
  result: { language?: string; translated_to?: string } | undefined,
): string {
  if (!run.outputName || run.task === 'moderate' || !run.textOutputs.includes(ext)) return outputKey(key, ext);
  return namedOutputKey(key, ext, run.outputName, result?.translated_to ?? result?.language ?? UNDETERMINED);
}
