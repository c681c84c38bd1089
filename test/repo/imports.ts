/**
 * The repository's own import graph, read from the source text: static `import`/`export ... from`, and any
 * relative string literal naming a .ts/.js file (`await import('./x.ts')`, the CLI's command table). Enough to
 * answer "who imports this file" without a bundler; a file loaded some other way would show up as unreachable.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';

export interface ImportGraph {
  /** repo-relative file -> repo-relative files it imports (runtime and type-only) */
  deps: Map<string, string[]>;
  /** the same, runtime imports only (`import type` left out) */
  runtime: Map<string, string[]>;
}

export function sourceFiles(root: string, dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const e of readdirSync(path.join(root, d))) {
      const rel = path.join(d, e);
      if (statSync(path.join(root, rel)).isDirectory()) walk(rel);
      else if (/\.(ts|js|mjs)$/.test(e)) out.push(rel);
    }
  };
  if (existsSync(path.join(root, dir))) walk(dir);
  return out;
}

const STATIC = /^\s*(?:import|export)\s+(type\s+)?(?:[^'"]*?\s+from\s+)?['"](\.{1,2}\/[^'"]+)['"]/gm;
const LITERAL = /['"](\.{1,2}\/[^'"\s]+\.(?:ts|js|mjs))['"]/g;

export function importGraph(root: string, files: string[]): ImportGraph {
  const deps = new Map<string, string[]>();
  const runtime = new Map<string, string[]>();
  for (const f of files) {
    const text = readFileSync(path.join(root, f), 'utf8');
    const all = new Set<string>();
    const run = new Set<string>();
    const add = (spec: string, typeOnly: boolean): void => {
      const target = path.normalize(path.join(path.dirname(f), spec));
      if (!existsSync(path.join(root, target))) return;
      all.add(target);
      if (!typeOnly) run.add(target);
    };
    for (const m of text.matchAll(STATIC)) add(m[2], Boolean(m[1]));
    for (const m of text.replace(STATIC, '').matchAll(LITERAL)) add(m[1], false);
    deps.set(f, [...all]);
    runtime.set(f, [...run]);
  }
  return { deps, runtime };
}

/** Every file reachable from `entries` through `edges`. */
export function reachable(edges: Map<string, string[]>, entries: string[]): Set<string> {
  const seen = new Set<string>();
  const todo = [...entries];
  while (todo.length) {
    const f = todo.pop()!;
    if (seen.has(f)) continue;
    seen.add(f);
    todo.push(...(edges.get(f) ?? []));
  }
  return seen;
}

/**
 * Pairs of src/ modules (a folder right under src/, its subfolders included) that import each other
 * (`a <-> b`), with one import each way as the evidence.
 */
export function folderCycles(edges: Map<string, string[]>): string[] {
  const folder = (f: string): string => f.split('/').slice(0, 2).join('/');
  const between = new Map<string, string>();
  for (const [f, ds] of edges)
    for (const d of ds)
      if (f.startsWith('src/') && d.startsWith('src/') && folder(f) !== folder(d)) between.set(`${folder(f)} -> ${folder(d)}`, `${f} -> ${d}`);
  const out: string[] = [];
  for (const [k, ev] of between) {
    const [a, b] = k.split(' -> ');
    const back = between.get(`${b} -> ${a}`);
    if (back && a < b) out.push(`${a} <-> ${b} (${ev}; ${back})`);
  }
  return out.sort();
}
