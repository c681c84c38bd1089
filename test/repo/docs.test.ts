/**
 * Comments cite the docs in the repository (docs/*.md, with a § number or a quoted section name): every cited
 * page and section must exist, so a renamed heading or a moved page breaks a test, not a reader's trail.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../helpers/paths.ts';
import { sourceFiles } from './imports.ts';

const CITE = /docs\/([\w-]+\.md)(?:,?\s*(?:§(\d+(?:\.\d+)?)|\(?"([^"]+)"))?/g;

function headings(doc: string): string[] {
  return readFileSync(path.join(REPO_ROOT, 'docs', doc), 'utf8')
    .split('\n')
    .filter((l) => /^#{2,4} /.test(l))
    .map((l) => l.replace(/^#+ /, ''));
}

describe('citations of docs/', () => {
  const files = [...sourceFiles(REPO_ROOT, 'src'), ...sourceFiles(REPO_ROOT, 'test'), ...sourceFiles(REPO_ROOT, 'bench')];
  const cites: { where: string; doc: string; section?: string; name?: string }[] = [];
  for (const f of files) {
    for (const m of readFileSync(path.join(REPO_ROOT, f), 'utf8').matchAll(CITE)) cites.push({ where: f, doc: m[1], section: m[2], name: m[3] });
  }

  it('point at pages and sections that exist', () => {
    const broken = cites.filter((c) => {
      if (!existsSync(path.join(REPO_ROOT, 'docs', c.doc))) return true;
      const hs = headings(c.doc);
      if (c.section) return !hs.some((h) => h.startsWith(`${c.section} `) || h.startsWith(`${c.section}. `));
      if (c.name) return !hs.includes(c.name);
      return false;
    });
    expect(broken).toEqual([]);
  });

  it('no longer point outside the repository (design.md, protocol.md, environment.md)', () => {
    const outside = files.filter((f) => /(?<![\w/])(design|protocol|environment)\.md/.test(readFileSync(path.join(REPO_ROOT, f), 'utf8')));
    expect(outside.filter((f) => f !== 'test/repo/docs.test.ts')).toEqual([]);
  });
});
