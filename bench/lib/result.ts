/**
 * What every benchmark and chaos scenario returns, how a pass is decided, and the runner's output:
 * one JSON line per scenario, a results file, and a closing table. Pure except `writeResult`.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

export type Op = '>=' | '<=' | '==';

/** One condition of a target: `value op target`. A scenario passes when all of its checks do. */
export interface Check {
  name: string;
  value: number;
  op: Op;
  target: number;
  pass: boolean;
}

export interface ScenarioResult {
  scenario: string;
  metric: string;
  /** the headline figure (a ratio against the reference measured in the same run) */
  value: number | null;
  /** the headline's target, written as `op number` (">= 0.9"); null when the issue sets none */
  target: string | null;
  /** null: nothing to pass (report-only scenario) */
  pass: boolean | null;
  quick: boolean;
  checks: Check[];
  [detail: string]: unknown;
}

export function check(name: string, value: number, op: Op, target: number): Check {
  const v = round(value, 4);
  const pass = op === '>=' ? v >= target : op === '<=' ? v <= target : v === target;
  return { name, value: v, op, target, pass };
}

/** The headline is the first check; the scenario passes when every check passes. */
export function result(scenario: string, metric: string, checks: Check[], details: Record<string, unknown>, quick: boolean): ScenarioResult {
  const head = checks[0];
  return {
    scenario,
    metric,
    value: head ? head.value : null,
    target: head ? `${head.op} ${head.target}` : null,
    pass: checks.length ? checks.every((c) => c.pass) : null,
    quick,
    checks,
    ...details,
  };
}

/** A report-only figure (no target yet). */
export function reportOnly(scenario: string, metric: string, value: number, details: Record<string, unknown>, quick: boolean): ScenarioResult {
  return { scenario, metric, value: round(value, 4), target: null, pass: null, quick, checks: [], ...details };
}

export function failed(scenario: string, err: unknown, quick: boolean): ScenarioResult {
  const e = err as Error;
  return {
    scenario,
    metric: 'error',
    value: null,
    target: null,
    pass: false,
    quick,
    checks: [],
    error: e?.message ?? String(err),
    stack: e?.stack?.split('\n').slice(0, 6),
  };
}

export function round(n: number, digits = 3): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}

export function machine(): Record<string, unknown> {
  return {
    cpus: os.cpus().length,
    cpuModel: os.cpus()[0]?.model,
    memGb: round(os.totalmem() / 2 ** 30, 1),
    node: process.version,
    loadAverage1m5m15m: os.loadavg().map((x) => round(x, 2)),
    at: new Date().toISOString(),
  };
}

/** bench/results/<scenario>.json (full runs), bench/results/quick/... (--quick), bench/results/chaos/... */
export async function writeResult(dir: string, r: ScenarioResult): Promise<string> {
  await mkdir(dir, { recursive: true });
  const file = path.join(dir, `${r.scenario}.json`);
  await writeFile(file, `${JSON.stringify({ ...r, machine: machine() }, null, 2)}\n`);
  return file;
}

/** The closing table (plain text, fixed columns). */
export function table(results: readonly ScenarioResult[]): string {
  const rows = results.map((r) => [
    r.scenario,
    r.metric,
    r.value === null ? '-' : String(r.value),
    r.target ?? '(report)',
    r.pass === null ? 'n/a' : r.pass ? 'PASS' : 'FAIL',
    r.checks
      .filter((c) => !c.pass)
      .map((c) => `${c.name} ${c.value} !${c.op} ${c.target}`)
      .join('; ') || (typeof r.error === 'string' ? r.error.slice(0, 80) : ''),
  ]);
  const head = ['scenario', 'metric', 'value', 'target', 'pass', 'missed'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i].length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => c.padEnd(widths[i]))
      .join('  ')
      .trimEnd();
  return [line(head), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

/** argv -> scenario names and flags; unknown flags are an error (a typo must not run the full suite). */
export function parseArgs(argv: readonly string[], known: readonly string[]): { names: string[]; quick: boolean; json: boolean } {
  const names: string[] = [];
  let quick = false;
  let json = false;
  for (const a of argv) {
    if (a === '--quick') quick = true;
    else if (a === '--json') json = true;
    else if (a.startsWith('-')) throw new Error(`unknown flag ${a} (use --quick, --json)`);
    else if (!known.includes(a)) throw new Error(`unknown scenario ${a}: one of ${known.join(', ')}`);
    else names.push(a);
  }
  return { names: names.length ? names : [...known], quick, json };
}
