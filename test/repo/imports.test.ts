/**
 * The shape of src/: nothing in it exists only for the tests (test-only code lives under test/), and the
 * layers do not import each other both ways.
 */

import { describe, expect, it } from 'vitest';
import { STAGES } from '../../src/jobs/catalog.ts';
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
    expect(graph.runtime.get('src/workers/index.ts')).not.toContain('src/app/context.ts');
    expect(graph.deps.get('src/workers/index.ts')).toContain('src/app/context.ts');
  });
});

/**
 * The three floors of the running product (docs/architecture.md, "Layout"): src/app/ wires the process
 * (context, the costs facade), src/lifecycle/ says how a file and a run end, src/workers/ holds only the job
 * handlers. Each floor imports only the ones below it; outside them, only the CLI starts the workers.
 */
describe('the app, lifecycle and workers floors', () => {
  const folder = (f: string): string => f.split('/').slice(0, 2).join('/');
  const importsInto = (from: (f: string) => boolean, into: string): string[] =>
    [...graph.deps].flatMap(([f, ds]) => (from(f) ? ds.filter((d) => folder(d) === into).map((d) => `${f} -> ${d}`) : []));

  it('app/ imports neither lifecycle/ nor workers/', () => {
    const inApp = (f: string): boolean => folder(f) === 'src/app';
    expect([...importsInto(inApp, 'src/lifecycle'), ...importsInto(inApp, 'src/workers')]).toEqual([]);
  });

  it('lifecycle/ does not import workers/', () => {
    expect(importsInto((f) => folder(f) === 'src/lifecycle', 'src/workers')).toEqual([]);
  });

  it('outside workers/, only the CLI imports it, and only its bootstrap (workers/index.ts)', () => {
    const outside = importsInto((f) => f.startsWith('src/') && folder(f) !== 'src/workers', 'src/workers');
    expect(outside.filter((e) => !/^src\/cli\/[^ ]+ -> src\/workers\/index\.ts$/.test(e))).toEqual([]);
  });

  it('workers/ holds job handlers and their pure deciders, ports and flows: nothing the rest of the app wires', () => {
    // a handler is named after its stage (jobs/catalog.ts STAGES: batch-line, batch-poll, ...)
    const allowed = new RegExp(`^src/workers/(index|failure-hooks|failure-decide|render|(${STAGES.join('|')})(-(decide|ports|flow))?)\\.ts$`);
    expect(product.filter((f) => folder(f) === 'src/workers' && !allowed.test(f))).toEqual([]);
    for (const gone of ['context', 'costs', 'files', 'run-report', 'audio', 'rpm']) expect(product).not.toContain(`src/workers/${gone}.ts`);
  });
});
