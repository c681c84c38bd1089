/**
 * docker-compose.yml -> what each service runs (image, entrypoint, command, environment, dependencies,
 * healthcheck, replicas), so that a test can start the very same services without Docker. Pure: text
 * and an environment in, data out; `loadCompose` is the one-line adapter that reads the file.
 * Interpolation follows compose: `${VAR}`, `${VAR:-default}`, `${VAR-default}`, `$VAR`, `$$` -> `$`.
 * Test-only code: nothing in the product reads docker-compose.yml.
 */
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { OmniError } from '../../src/util/errors.ts';

export type YamlValue = string | number | boolean | null | YamlValue[] | { [key: string]: YamlValue };

/**
 * YAML 1.2's core schema, as compose v2 reads it (`yes`/`on` stay strings), with `<<` merge keys, which
 * compose supports and 1.2 leaves out; a duplicate key is an error, never a silent overwrite.
 */
export function parseYaml(text: string): YamlValue {
  try {
    return parse(text, { merge: true, uniqueKeys: true, schema: 'core' }) as YamlValue;
  } catch (err) {
    throw new OmniError('config_invalid', `docker-compose.yml is not valid YAML: ${(err as Error).message}`, { cause: err });
  }
}

export type DependsCondition = 'service_started' | 'service_healthy' | 'service_completed_successfully';
const CONDITIONS: readonly DependsCondition[] = ['service_started', 'service_healthy', 'service_completed_successfully'];

export interface ComposeService {
  name: string;
  image?: string;
  /** build context, when the service is built from this repository */
  build?: string;
  entrypoint?: string[];
  command?: string[];
  environment: Record<string, string>;
  dependsOn: Record<string, DependsCondition>;
  /** the healthcheck's test in exec form (`["CMD", ...]` or `["CMD-SHELL", "..."]`) */
  healthcheck?: string[];
  replicas: number;
  volumes: string[];
  ports: string[];
  restart?: string;
}

export interface ComposeModel {
  services: Record<string, ComposeService>;
  volumes: string[];
  /** top-level `x-*` extension fields, interpolated */
  extensions: Record<string, YamlValue>;
}

export type Env = Readonly<Record<string, string | undefined>>;

function bad(message: string): never {
  throw new OmniError('config_invalid', message);
}

export function loadCompose(file: string, env: Env = {}): ComposeModel {
  return parseCompose(readFileSync(file, 'utf8'), env);
}

export function parseCompose(text: string, env: Env = {}): ComposeModel {
  const doc = interpolateDeep(parseYaml(text), env);
  if (!isMap(doc) || !isMap(doc.services)) bad('docker-compose.yml has no services mapping');
  const services: Record<string, ComposeService> = {};
  for (const [name, raw] of Object.entries(doc.services)) {
    if (!isMap(raw)) bad(`service ${name} is not a mapping`);
    services[name] = service(name, raw);
  }
  for (const s of Object.values(services)) {
    for (const dep of Object.keys(s.dependsOn)) if (!services[dep]) bad(`service ${s.name} depends on unknown service ${dep}`);
  }
  const extensions = Object.fromEntries(Object.entries(doc).filter(([k]) => k.startsWith('x-')));
  return { services, volumes: isMap(doc.volumes) ? Object.keys(doc.volumes) : [], extensions };
}

function service(name: string, raw: Record<string, YamlValue>): ComposeService {
  const deploy = isMap(raw.deploy) ? raw.deploy : {};
  const replicas = deploy.replicas ?? raw.scale ?? 1;
  if (typeof replicas !== 'number' || !Number.isInteger(replicas) || replicas < 0) bad(`service ${name}: replicas must be a whole number`);
  const build =
    raw.build === undefined
      ? undefined
      : typeof raw.build === 'string'
        ? raw.build
        : isMap(raw.build)
          ? String(raw.build.context ?? '.')
          : bad(`service ${name}: bad build`);
  const hc = isMap(raw.healthcheck) ? raw.healthcheck.test : undefined;
  return {
    name,
    ...(typeof raw.image === 'string' && { image: raw.image }),
    ...(build !== undefined && { build }),
    ...(raw.entrypoint != null && { entrypoint: argv(raw.entrypoint, `${name}.entrypoint`) }),
    ...(raw.command != null && { command: argv(raw.command, `${name}.command`) }),
    environment: environment(raw.environment, name),
    dependsOn: dependsOn(raw.depends_on, name),
    ...(hc != null && { healthcheck: typeof hc === 'string' ? ['CMD-SHELL', hc] : argv(hc, `${name}.healthcheck.test`) }),
    replicas,
    volumes: list(raw.volumes, `${name}.volumes`),
    ports: list(raw.ports, `${name}.ports`),
    ...(raw.restart != null && { restart: String(raw.restart) }),
  };
}

/** exec form only: a string command would need shell word splitting, which we do not guess at */
function argv(v: YamlValue, where: string): string[] {
  if (typeof v === 'string') {
    if (/["'\\]/.test(v)) bad(`${where}: write it as a list; quoted string commands are not split here`);
    return v.split(/\s+/).filter(Boolean);
  }
  return list(v, where);
}

function list(v: YamlValue | undefined, where: string): string[] {
  if (v == null) return [];
  if (!Array.isArray(v)) bad(`${where} must be a list`);
  return v.map((x) => (isScalar(x) ? String(x) : bad(`${where}: items must be scalars`)));
}

function environment(v: YamlValue | undefined, name: string): Record<string, string> {
  if (v == null) return {};
  const out: Record<string, string> = {};
  if (Array.isArray(v)) {
    for (const item of v) {
      const s = String(item);
      const eq = s.indexOf('=');
      if (eq <= 0) bad(`service ${name}: environment item "${s}" is not KEY=value`);
      out[s.slice(0, eq)] = s.slice(eq + 1);
    }
    return out;
  }
  if (!isMap(v)) bad(`service ${name}: environment must be a mapping or a list`);
  for (const [k, val] of Object.entries(v)) {
    if (!isScalar(val)) bad(`service ${name}: environment ${k} must be a scalar`);
    out[k] = val === null ? '' : String(val);
  }
  return out;
}

function dependsOn(v: YamlValue | undefined, name: string): Record<string, DependsCondition> {
  if (v == null) return {};
  if (Array.isArray(v)) return Object.fromEntries(v.map((d) => [String(d), 'service_started' as const]));
  if (!isMap(v)) bad(`service ${name}: depends_on must be a list or a mapping`);
  const out: Record<string, DependsCondition> = {};
  for (const [dep, spec] of Object.entries(v)) {
    const cond = isMap(spec) ? (spec.condition ?? 'service_started') : 'service_started';
    if (!CONDITIONS.includes(cond as DependsCondition)) bad(`service ${name}: unknown depends_on condition ${String(cond)}`);
    out[dep] = cond as DependsCondition;
  }
  return out;
}

export function interpolate(value: string, env: Env): string {
  return value.replace(
    /\$(?:\$|\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}|([A-Za-z_][A-Za-z0-9_]*))/g,
    (whole, braced: string | undefined, op: string | undefined, arg: string | undefined, bare: string | undefined) => {
      if (whole === '$$') return '$';
      const name = (braced ?? bare)!;
      const v = env[name];
      const missing = op?.startsWith(':') ? v === undefined || v === '' : v === undefined;
      if (!op || !missing) return v ?? '';
      if (op.endsWith('?')) bad(`variable ${name} is required: ${arg || 'not set'}`);
      return arg ?? '';
    },
  );
}

function interpolateDeep(v: YamlValue, env: Env): YamlValue {
  if (typeof v === 'string') return interpolate(v, env);
  if (Array.isArray(v)) return v.map((x) => interpolateDeep(x, env));
  if (isMap(v)) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, interpolateDeep(x, env)]));
  return v;
}

/**
 * The order to start services in: each level depends only on earlier levels. A cycle is an error,
 * as it is for compose.
 */
export function startOrder(model: ComposeModel): string[][] {
  const done = new Set<string>();
  const levels: string[][] = [];
  const names = Object.keys(model.services);
  while (done.size < names.length) {
    const level = names.filter((n) => !done.has(n) && Object.keys(model.services[n].dependsOn).every((d) => done.has(d)));
    if (level.length === 0) bad(`dependency cycle among ${names.filter((n) => !done.has(n)).join(', ')}`);
    for (const n of level) done.add(n);
    levels.push(level);
  }
  return levels;
}

export interface Rewrite {
  /** `service:port` as written in URLs -> `host:port` where the stand-in listens */
  hosts: Record<string, string>;
  /** a path inside the container -> a local directory */
  paths?: Record<string, string>;
  /** a flag of the command -> its new value (`--port` -> a private port) */
  flags?: Record<string, string>;
}

/** A service's command, environment and healthcheck with compose's network names and volume paths made local. */
export function localize(svc: ComposeService, rw: Rewrite): { command: string[]; environment: Record<string, string>; healthcheck?: string[] } {
  const fix = (s: string): string => {
    let out = s;
    for (const [from, to] of Object.entries(rw.hosts)) {
      out = out.replace(new RegExp(`(?<=//|@)${escapeRe(from)}(?=[/?#]|$)`, 'g'), to);
    }
    for (const [from, to] of Object.entries(rw.paths ?? {})) {
      if (out === from || out.startsWith(`${from}/`)) out = to + out.slice(from.length);
    }
    return out;
  };
  const command = (svc.command ?? []).map(fix);
  for (const [flag, value] of Object.entries(rw.flags ?? {})) {
    const at = command.indexOf(flag);
    if (at >= 0 && at + 1 < command.length) command[at + 1] = value;
  }
  return {
    command,
    environment: Object.fromEntries(Object.entries(svc.environment).map(([k, v]) => [k, fix(v)])),
    ...(svc.healthcheck && { healthcheck: svc.healthcheck.map(fix) }),
  };
}

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

function isMap(v: YamlValue | undefined): v is { [key: string]: YamlValue } {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isScalar(v: YamlValue): v is string | number | boolean | null {
  return v === null || typeof v !== 'object';
}
