import { describe, expect, it } from 'vitest';
import { unpricedNote, unpricedUsage } from '../../src/cost/price.ts';
import { isVideoKey, parseRange, servedType } from '../../src/dashboard/range.ts';
import { stripExternalLinks } from '../../src/dashboard/server.ts';
import { findModel } from '../../src/models/catalog.ts';
import { emptyUsage } from '../../src/models/types.ts';
import { createTtyLine } from '../../src/util/tty-line.ts';

describe('the player and the outputs over HTTP Range', () => {
  it('answers a browser player’s ranges', () => {
    expect(parseRange(undefined, 100)).toEqual({ kind: 'whole' });
    expect(parseRange('bytes=0-', 100)).toEqual({ kind: 'partial', range: { start: 0, end: 99 } });
    expect(parseRange('bytes=10-19', 100)).toEqual({ kind: 'partial', range: { start: 10, end: 19 } });
    expect(parseRange('bytes=90-500', 100)).toEqual({ kind: 'partial', range: { start: 90, end: 99 } });
    expect(parseRange('bytes=-10', 100)).toEqual({ kind: 'partial', range: { start: 90, end: 99 } });
    expect(parseRange('bytes=0-1, 5-6', 100)).toEqual({ kind: 'partial', range: { start: 0, end: 1 } });
    expect(parseRange('bytes=100-', 100)).toEqual({ kind: 'unsatisfiable' });
    expect(parseRange('bytes=5-2', 100)).toEqual({ kind: 'unsatisfiable' });
    expect(parseRange('items=1-2', 100)).toEqual({ kind: 'whole' });
  });

  it('serves by extension, never by what the file claims', () => {
    expect(servedType('in/a.MP4')).toBe('video/mp4');
    expect(servedType('in/a.wav')).toBe('audio/wav');
    expect(servedType('in/a.html')).toBe('application/octet-stream');
    expect(isVideoKey('x.webm')).toBe(true);
    expect(isVideoKey('x.mp3')).toBe(false);
  });

  it("strips Bull Board's font link to another host", () => {
    const html =
      '<head><link rel="icon" href="static/x.svg"><link href="https://fonts.googleapis.com/css2?family=IBM+Plex+Sans" rel="stylesheet"><link href="static/css/main.css" rel="stylesheet"></head>';
    expect(stripExternalLinks(html)).toBe('<head><link rel="icon" href="static/x.svg"><link href="static/css/main.css" rel="stylesheet"></head>');
  });
});

describe('a terminal bar and log lines', () => {
  it('writes a log line above the bar and draws the bar again under it', () => {
    let out = '';
    const t = createTtyLine({ write: (s: string) => (out += s) });
    t.write('before\n');
    t.show('[##..] 1/2');
    t.write('a log line\n');
    t.done('[####] 2/2');
    t.write('after\n');
    expect(out).toBe('before\n\r\x1b[2K[##..] 1/2\r\x1b[2Ka log line\n[##..] 1/2\r\x1b[2K[####] 2/2\nafter\n');
  });
});

describe('what had no price', () => {
  it('names the unpriced usage of a partly priced figure', () => {
    const prices = findModel('qwen3-omni-flash')!.prices.intl;
    const u = emptyUsage();
    u.input.audio = 1000;
    u.input.video = 14_082;
    u.output.text = 50;
    expect(unpricedUsage(u, prices)).toEqual([{ kind: 'input video', tokens: 14_082 }]);
    expect(unpricedNote(unpricedUsage(u, prices))).toBe('partly unpriced: 14082 input video tokens had no price');
    expect(unpricedNote(unpricedUsage(u, undefined))).toBe('unpriced: no price for this model/region');
    u.input.video = 0;
    expect(unpricedUsage(u, prices)).toEqual([]);
  });
});
