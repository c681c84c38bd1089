/**
 * The shape of src/: nothing in it exists only for the tests (test-only code lives under test/), and the
 * layers do not import each other both ways.
 */
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../helpers/paths.ts';
import { folderCycles, importGraph, reachable, sourceFiles } from './imports.ts';

const product = [...sourceFiles(REPO_ROOT, 'src'), ...sourceFiles(REPO_ROOT, 'bin'), ...sourceFiles(REPO_ROOT, 'bench')];
const graph = importGraph(REPO_ROOT, product);

describe('src/', () => {
  it('has no file that only tests import: every .ts is reached from bin/ or bench/', () => {
    const entries = product.filter((f) => f.startsWith('bin/') || f.startsWith('bench/'));
    const used = reachable(graph.deps, entries);
    const unused = product.filter((f) => f.startsWith('src/') && f.endsWith('.ts') && !used.has(f));
    expect(unused).toEqual([]);
  });

  it('has no pair of modules (folders under src/) importing each other, type-only imports included', () => {
    expect(folderCycles(graph.deps)).toEqual([]);
  });

  it('the graph reader sees the command table and type-only imports', () => {
    expect(graph.deps.get('src/cli/main.ts')).toContain('src/cli/worker.ts');
    expect(graph.deps.get('bin/omnibatch.js')).toEqual(['src/cli/main.ts']);
    expect(graph.runtime.get('src/workers/index.ts')).not.toContain('src/workers/context.ts');
    expect(graph.deps.get('src/workers/index.ts')).toContain('src/workers/context.ts');
  });
});
