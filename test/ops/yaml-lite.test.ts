import { describe, expect, it } from 'vitest';
import { parseYaml } from '../../src/ops/yaml-lite.ts';

describe('parseYaml (the subset docker-compose.yml uses)', () => {
  it('reads nested mappings, typed plain scalars, quoted scalars and comments', () => {
    const doc = parseYaml([
      '# a comment',
      'a: 1',
      'b: true',
      'c: ~',
      'd: "x: #not a comment\\n"',
      "e: 'it''s'",
      'f: plain text # trailing comment',
      'g: yes',
      'h:',
      '  i: 1.5',
      '  "j k": minio/minio:latest',
      'url: http://minio:9000',
    ].join('\n'));
    expect(doc).toEqual({
      a: 1, b: true, c: null, d: 'x: #not a comment\n', e: "it's", f: 'plain text', g: 'yes',
      h: { i: 1.5, 'j k': 'minio/minio:latest' }, url: 'http://minio:9000',
    });
  });

  it('reads block sequences, indentless ones, sequences of mappings and flow sequences over lines', () => {
    const doc = parseYaml([
      'ports:',
      '  - "9000:9000"',
      '  - 9001',
      'volumes:',
      '- data:/data',
      'items:',
      '  - name: a',
      '    n: 1',
      '  - - nested',
      'cmd: ["a", \'b c\', 3,',
      '      "d"]',
      'empty: []',
      'flowmap: { k: v, n: 2 }',
    ].join('\n'));
    expect(doc).toEqual({
      ports: ['9000:9000', 9001], volumes: ['data:/data'],
      items: [{ name: 'a', n: 1 }, ['nested']], cmd: ['a', 'b c', 3, 'd'], empty: [], flowmap: { k: 'v', n: 2 },
    });
  });

  it('resolves anchors, aliases and << merges, explicit keys winning', () => {
    const doc = parseYaml([
      'x-env: &env',
      '  A: "1"',
      '  B: "2"',
      'x-base: &base',
      '  image: img',
      '  environment: *env',
      'services:',
      '  s:',
      '    image: mine',
      '    <<: *base',
      '  t:',
      '    <<: [*base]',
      '    command: *env',
    ].join('\n')) as Record<string, Record<string, unknown>>;
    expect(doc.services.s).toEqual({ image: 'mine', environment: { A: '1', B: '2' } });
    expect(doc.services.t).toEqual({ image: 'img', environment: { A: '1', B: '2' }, command: { A: '1', B: '2' } });
  });

  it('reads | literal blocks with clip and strip chomping, keeping # and blank lines inside', () => {
    const doc = parseYaml([
      'clip:',
      '  - |',
      '    set -e',
      '',
      '    echo "#1"',
      '',
      'strip: |-',
      '  one',
      'after: x',
    ].join('\n'));
    expect(doc).toEqual({ clip: ['set -e\n\necho "#1"\n'], strip: 'one', after: 'x' });
  });

  it.each([
    ['tab indentation', 'a:\n\tb: 1'],
    ['duplicate keys', 'a: 1\na: 2'],
    ['an unknown alias', 'a: *nope'],
    ['folded scalars', 'a: >\n  text'],
    ['tags', 'a: !!str 1'],
    ['a second document', 'a: 1\n---\nb: 2'],
    ['a plain scalar running onto the next line', 'a: one\n  two'],
    ['nested flow collections', 'a: [[1]]'],
    ['an unclosed quote', 'a: "open'],
  ])('refuses %s with the line number', (_what, text) => {
    expect(() => parseYaml(text)).toThrow(/line \d+/);
  });
});
