/** `omnibatch probe <file> [--json]`: what a media file holds and how long it really is. */
import type { Command } from 'commander';
import { probeMedia } from '../media/probe.ts';
import type { MediaInfo } from '../media/types.ts';
import { configFrom, loggerFor, printJson } from './common.ts';

export function formatInfo(file: string, info: MediaInfo): string {
  const lines = [
    `file:      ${file}`,
    `container: ${info.container}, ${(info.sizeBytes / 1048576).toFixed(2)} MiB${info.bitrate ? `, ${Math.round(info.bitrate / 1000)} kbps` : ''}`,
    `duration:  ${info.durationS.toFixed(3)} s${
      info.durationSource === 'measured'
        ? ` (measured; header ${info.headerDurationS === undefined ? 'has none' : `claims ${info.headerDurationS.toFixed(3)} s`})`
        : ''
    }`,
  ];
  for (const a of info.audio) lines.push(`audio #${a.index}: ${a.codec} ${a.sampleRate} Hz ${a.channels} ch`);
  for (const v of info.video)
    lines.push(`video #${v.index}: ${v.codec} ${v.width}x${v.height}${v.attachedPic ? ' (attached picture)' : ` ${Math.round(v.fps * 100) / 100} fps`}`);
  return `${lines.join('\n')}\n`;
}

export function register(program: Command): void {
  program
    .command('probe')
    .description('streams, codecs and the decodable duration of a media file (or URL)')
    .argument('<file>')
    .option('--json', 'print the MediaInfo as JSON')
    .action(async (file: string, f: { json?: boolean }, cmd: Command) => {
      const log = loggerFor(configFrom(cmd));
      const info = await probeMedia(file, { log });
      if (f.json) printJson(info);
      else process.stdout.write(formatInfo(file, info));
    });
}
