/**
 * The language options of a transcript (`--language`, `--translate-to`): what the prompt tells the model, and
 * how the language the model named comes back. The models in the catalogue return no language field and no
 * timestamps (seeds 000-002), so a language is only ever one the user gave or one the model was ASKED to name
 * (`--language auto`: a `[xx]` tag before the transcript); nothing is guessed. Pure.
 */
import { OmniError } from '../util/errors.ts';

/** A BCP 47 tag as players and sidecar names use it: `en`, `pt-BR`, `zh-Hans`. */
const LANGUAGE_TAG = /^[A-Za-z]{2,3}(?:-[A-Za-z0-9]{2,8})*$/u;
export const AUTO_LANGUAGE = 'auto';
/** ISO 639-2 "undetermined": the `{lang}` of an output name when nothing is known. */
export const UNDETERMINED = 'und';

/** The instruction `--language auto` adds; the emulator keys on its wording (src/emulator/answer.ts). */
export const LANGUAGE_TAG_INSTRUCTION = 'Begin your answer with the spoken language as an ISO 639-1 code in square brackets, such as [en], then the text.';

export function checkLanguage(code: string, flag: string, allowAuto = false): string {
  if (allowAuto && code === AUTO_LANGUAGE) return code;
  if (!LANGUAGE_TAG.test(code)) {
    throw new OmniError('invalid_argument', `${flag} ${JSON.stringify(code)}: expected a language code such as en, de or pt-BR${allowAuto ? ', or auto' : ''}`);
  }
  return code;
}

/** "German (de)"; the code alone where the runtime has no name for it. */
export function languageName(code: string): string {
  let name: string | undefined;
  try {
    name = new Intl.DisplayNames(['en'], { type: 'language' }).of(code);
  } catch {
    name = undefined;
  }
  return name && name !== code ? `${name} (${code})` : code;
}

export interface LanguageOptions {
  /** the spoken language, or `auto`: the model names it */
  language?: string;
  /** write the text in this language instead of the spoken one */
  translateTo?: string;
}

/** The prompt with the language instructions after it (none: the prompt as it is). */
export function languagePrompt(prompt: string, o: LanguageOptions): string {
  const parts = [prompt];
  if (o.language && o.language !== AUTO_LANGUAGE) parts.push(`The speech is in ${languageName(o.language)}.`);
  if (o.translateTo) parts.push(`Write the text in ${languageName(o.translateTo)}, translating what is said; output only that text.`);
  if (o.language === AUTO_LANGUAGE) parts.push(LANGUAGE_TAG_INSTRUCTION);
  return parts.join(' ');
}

const TAG_AT_START = /^\s*\[([A-Za-z]{2,3}(?:-[A-Za-z0-9]{2,8})*)\]\s*/u;

/** A chunk's answer to `--language auto`: the language it named (if it did) and the text without the tag. */
export function takeLanguageTag(text: string): { language?: string; text: string } {
  const m = TAG_AT_START.exec(text);
  if (!m) return { text };
  return { language: m[1].toLowerCase(), text: text.slice(m[0].length) };
}

/** The file's language: the one named for the most seconds of its chunks (ties: the earliest). */
export function dominantLanguage(chunks: readonly { language?: string; startS: number; endS: number }[]): string | undefined {
  const seconds = new Map<string, number>();
  for (const c of chunks) if (c.language) seconds.set(c.language, (seconds.get(c.language) ?? 0) + Math.max(0, c.endS - c.startS));
  let best: string | undefined;
  for (const [lang, s] of seconds) if (best === undefined || s > seconds.get(best)!) best = lang;
  return best;
}
