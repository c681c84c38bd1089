/**
 * Speech with known sentence times, for the cue-timing benchmark (bench/scenarios/cue-timing.ts) and its fast
 * test: espeak-ng says each sentence on its own, the sentence's audio is trimmed to where the voice is, and the
 * file is laid out sentence, pause, sentence... with the pauses chosen per style. The truth is exact: every
 * sentence's [start, end] on the file's timeline, and everything outside them is digital silence.
 */
import { spawn } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { seededRandom } from '../../src/util/random.ts';

export const SPEECH_RATE = 22_050;

export interface TimedSentence {
  text: string;
  startS: number;
  endS: number;
}

export interface TimedSpeech {
  file: string;
  durationS: number;
  sentences: TimedSentence[];
}

export type SpeechStyle = 'radio' | 'lecture' | 'dialogue';

const WORDS = (
  'the news today weather city council river market morning evening people school station music story ' +
  'report water road bridge train island village history science garden kitchen letter window summer winter ' +
  'government listener program north south coast harbour festival library museum question answer minister ' +
  'farmers students doctors engineers teachers neighbours visitors travellers builders drivers'
).split(' ');
const VERBS = 'said will open close move begin finish carry build visit explain describe remember announce discuss'.split(' ');
const SHORT_TURNS = ['Yes.', 'No.', 'Really?', 'I see.', 'Go on.', 'Right.', 'Of course.', 'Not at all.', 'Why not?', 'Exactly.'];

/** One sentence of `words` words, sometimes with a comma (a breath pause in the voice). */
function sentence(rand: () => number, words: number): string {
  const out: string[] = [];
  for (let i = 0; i < words; i++) out.push(i % 4 === 2 ? VERBS[Math.floor(rand() * VERBS.length)] : WORDS[Math.floor(rand() * WORDS.length)]);
  if (words > 9 && rand() < 0.5) out[Math.floor(words / 2)] += ',';
  const s = out.join(' ');
  return `${s[0].toUpperCase()}${s.slice(1)}${rand() < 0.15 ? '?' : '.'}`;
}

export interface Line {
  text: string;
  voice: string;
  /** the pause after it */
  pauseS: number;
}

/**
 * The script of one style, about `seconds` long: radio (long sentences, 0.3-1.5 s pauses, a 30-s and a 45-s
 * silence), lecture (long sentences with commas, 0.4-3 s pauses and some 5-12 s ones), dialogue (two voices,
 * short turns, 0.2-0.8 s between them).
 */
export function script(style: SpeechStyle, seconds: number, seed: number): Line[] {
  const rand = seededRandom(seed);
  const lines: Line[] = [];
  let t = 0;
  // espeak-ng at 165 wpm: about 0.36 s a word.
  const say = (text: string, voice: string, pauseS: number) => {
    lines.push({ text, voice, pauseS });
    t += text.split(' ').length * 0.36 + pauseS;
  };
  const longSilences = style === 'radio' ? [seconds * 0.3, seconds * 0.65] : [];
  while (t < seconds) {
    if (style === 'radio') {
      let pause = 0.3 + rand() * 1.2;
      if (longSilences.length && t >= longSilences[0]) pause = longSilences.shift()! < seconds * 0.5 ? 30 : 45;
      say(sentence(rand, 8 + Math.floor(rand() * 14)), 'en-us', pause);
    } else if (style === 'lecture') {
      say(sentence(rand, 10 + Math.floor(rand() * 18)), 'en-gb', rand() < 0.08 ? 5 + rand() * 7 : 0.4 + rand() * 2.6);
    } else {
      const voice = lines.length % 2 === 0 ? 'en-us' : 'en-gb';
      const text = rand() < 0.4 ? SHORT_TURNS[Math.floor(rand() * SHORT_TURNS.length)] : sentence(rand, 3 + Math.floor(rand() * 6));
      say(text, voice, 0.2 + rand() * 0.6);
    }
  }
  return lines;
}

function espeak(text: string, voice: string): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const p = spawn('espeak-ng', ['-v', voice, '-s', '165', '--stdout', text], { stdio: ['ignore', 'pipe', 'ignore'] });
    const parts: Buffer[] = [];
    const timer = setTimeout(() => p.kill('SIGKILL'), 60_000);
    p.stdout.on('data', (b: Buffer) => parts.push(b));
    p.on('error', reject);
    p.on('close', (code) => {
      clearTimeout(timer);
      if (code === 0) resolve(Buffer.concat(parts));
      else reject(new Error(`espeak-ng exited with ${code}`));
    });
  });
}

/** The 16-bit samples of a WAV espeak-ng wrote (its header may claim a bogus length when streamed). */
function pcm(wav: Buffer): Int16Array {
  let at = 12;
  while (at + 8 <= wav.length) {
    const id = wav.toString('ascii', at, at + 4);
    const size = wav.readUInt32LE(at + 4);
    if (id === 'data') {
      const body = wav.subarray(at + 8);
      const n = Math.floor(body.length / 2);
      return new Int16Array(body.buffer.slice(body.byteOffset, body.byteOffset + n * 2));
    }
    at += 8 + size;
  }
  throw new Error('no data chunk in espeak-ng output');
}

/** Where the voice is: the first and last samples above -40 dBFS. */
function voiced(samples: Int16Array): [number, number] {
  const threshold = 328;
  let a = 0;
  while (a < samples.length && Math.abs(samples[a]) < threshold) a++;
  let b = samples.length;
  while (b > a && Math.abs(samples[b - 1]) < threshold) b--;
  return [a, b];
}

function wavFile(samples: Int16Array): Buffer {
  const header = Buffer.alloc(44);
  header.write('RIFF', 0, 'ascii');
  header.writeUInt32LE(36 + samples.length * 2, 4);
  header.write('WAVEfmt ', 8, 'ascii');
  header.writeUInt32LE(16, 16);
  header.writeUInt16LE(1, 20);
  header.writeUInt16LE(1, 22);
  header.writeUInt32LE(SPEECH_RATE, 24);
  header.writeUInt32LE(SPEECH_RATE * 2, 28);
  header.writeUInt16LE(2, 32);
  header.writeUInt16LE(16, 34);
  header.write('data', 36, 'ascii');
  header.writeUInt32LE(samples.length * 2, 40);
  return Buffer.concat([header, Buffer.from(samples.buffer, samples.byteOffset, samples.byteLength)]);
}

/** Synthesises the script into `file` (a WAV), sentence by sentence; returns each sentence's true times. */
export async function makeTimedSpeech(file: string, lines: readonly Line[], leadS = 0.5): Promise<TimedSpeech> {
  await mkdir(path.dirname(file), { recursive: true });
  // Two espeak-ng at a time: the machine is shared.
  const audio: Int16Array[] = new Array(lines.length);
  let next = 0;
  const worker = async () => {
    while (next < lines.length) {
      const i = next++;
      const s = pcm(await espeak(lines[i].text, lines[i].voice));
      const [a, b] = voiced(s);
      audio[i] = s.subarray(a, b);
    }
  };
  await Promise.all([worker(), worker()]);
  const total = Math.round(leadS * SPEECH_RATE) + lines.reduce((n, l, i) => n + audio[i].length + Math.round(l.pauseS * SPEECH_RATE), 0);
  const out = new Int16Array(total);
  const sentences: TimedSentence[] = [];
  let at = Math.round(leadS * SPEECH_RATE);
  lines.forEach((l, i) => {
    out.set(audio[i], at);
    sentences.push({ text: l.text, startS: at / SPEECH_RATE, endS: (at + audio[i].length) / SPEECH_RATE });
    at += audio[i].length + Math.round(l.pauseS * SPEECH_RATE);
  });
  await writeFile(file, wavFile(out));
  return { file, durationS: total / SPEECH_RATE, sentences };
}
