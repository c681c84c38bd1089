/**
 * A strict reader for the part of YAML that docker-compose.yml uses: block mappings and sequences
 * (indented or not), plain and quoted scalars, one-level flow sequences and mappings, `|` literal
 * blocks, anchors, aliases and `<<` merge keys. Anything outside that is an error naming the line,
 * never a silent misread. Why not a library: none is installed; `yaml` can replace this 1:1.
 * Plain scalars resolve as in YAML 1.2's core schema (as compose v2 reads them): `yes`/`on` stay strings.
 */
import { OmniError } from '../util/errors.ts';

export type YamlValue = string | number | boolean | null | YamlValue[] | { [key: string]: YamlValue };
type YamlMap = { [key: string]: YamlValue };

interface Line { indent: number; text: string }

export function parseYaml(source: string): YamlValue {
  return new Reader(source).document();
}

function fail(lineNo: number, message: string): never {
  throw new OmniError('yaml_unsupported', `line ${lineNo + 1}: ${message}`, { retryable: false });
}

class Reader {
  private readonly raw: string[];
  /** lines rewritten in place: `- key: v` is read as a mapping indented past its dash */
  private readonly overrides = new Map<number, Line>();
  private readonly anchors = new Map<string, YamlValue>();
  private pos = 0;

  constructor(source: string) {
    this.raw = source.replace(/^\uFEFF/, '').split(/\r?\n/);
  }

  document(): YamlValue {
    let i = this.next();
    if (i < this.raw.length && this.line(i).text === '---') { this.pos = i + 1; i = this.next(); }
    if (i >= this.raw.length) return null;
    const value = this.block(this.line(i).indent);
    i = this.next();
    if (i < this.raw.length && this.line(i).text !== '...') {
      fail(i, this.line(i).text === '---' ? 'only one document is supported' : `unexpected content "${this.line(i).text}"`);
    }
    return value;
  }

  /** index of the next line with content, from `pos` (blank and comment-only lines are skipped) */
  private next(): number {
    let i = this.pos;
    while (i < this.raw.length && !this.overrides.has(i) && /^\s*(#.*)?$/.test(this.raw[i])) i++;
    return i;
  }

  private line(i: number): Line {
    const o = this.overrides.get(i);
    if (o) return o;
    const raw = this.raw[i];
    const indent = raw.length - raw.replace(/^ */, '').length;
    if (raw[indent] === '\t') fail(i, 'tabs are not allowed in indentation');
    return { indent, text: stripComment(raw.slice(indent)).trimEnd() };
  }

  private block(indent: number): YamlValue {
    const i = this.next();
    return isDash(this.line(i).text) ? this.sequence(indent) : this.mapping(indent);
  }

  private mapping(indent: number): YamlMap {
    const own: YamlMap = {};
    const merged: YamlMap = {};
    for (;;) {
      const i = this.next();
      if (i >= this.raw.length) break;
      const { indent: ind, text } = this.line(i);
      if (ind < indent || text === '...' || text === '---') break;
      if (ind > indent) fail(i, 'unexpected indentation');
      if (isDash(text)) fail(i, 'a sequence item where a key was expected');
      const kv = splitKey(text, i);
      if (!kv) fail(i, `expected "key: value", got "${text}"`);
      this.pos = i + 1;
      const value = this.value(kv.rest, indent, i, true);
      if (kv.key === '<<') {
        for (const m of Array.isArray(value) ? value : [value]) {
          if (!isMap(m)) fail(i, '<< merges only mappings');
          for (const [k, v] of Object.entries(m)) if (!(k in merged)) merged[k] = v;
        }
        continue;
      }
      if (Object.prototype.hasOwnProperty.call(own, kv.key)) fail(i, `duplicate key "${kv.key}"`);
      own[kv.key] = value;
    }
    // explicit keys win over merged ones, wherever the << line stands
    return { ...merged, ...own };
  }

  private sequence(indent: number): YamlValue[] {
    const items: YamlValue[] = [];
    for (;;) {
      const i = this.next();
      if (i >= this.raw.length) break;
      const { indent: ind, text } = this.line(i);
      if (ind < indent || !isDash(text)) break;
      if (ind > indent) fail(i, 'unexpected indentation');
      const rest = text.slice(1).replace(/^ +/, '');
      const offset = text.length - rest.length;
      if (rest !== '' && (splitKey(rest, i) || isDash(rest))) {
        // `- key: v` / `- - v`: the item is a block that starts right after the dash
        this.overrides.set(i, { indent: ind + offset, text: rest });
        this.pos = i;
        items.push(this.block(ind + offset));
        continue;
      }
      this.pos = i + 1;
      items.push(this.value(rest, indent, i, false));
    }
    return items;
  }

  /** the value after `key:` or `- `; `parentIndent` is the key's (or dash's) column */
  private value(rest: string, parentIndent: number, lineNo: number, inMapping: boolean): YamlValue {
    let anchor: string | undefined;
    const a = /^&([^\s[\]{},]+)\s*(.*)$/.exec(rest);
    if (a) { anchor = a[1]; rest = a[2]; }
    let value: YamlValue;
    if (rest === '') {
      const i = this.next();
      const l = i < this.raw.length ? this.line(i) : undefined;
      if (l && l.indent > parentIndent) value = this.block(l.indent);
      // compose writes `key:` then `- item` at the key's own column (an indentless sequence)
      else if (l && inMapping && l.indent === parentIndent && isDash(l.text)) value = this.sequence(parentIndent);
      else value = null;
    } else if (rest.startsWith('*')) {
      value = this.alias(rest, lineNo);
    } else if (/^[|]/.test(rest)) {
      value = this.literal(rest, parentIndent, lineNo);
    } else if (rest.startsWith('[') || rest.startsWith('{')) {
      value = this.flow(rest, lineNo);
    } else {
      value = scalar(rest, lineNo);
    }
    if (anchor !== undefined) this.anchors.set(anchor, value);
    return value;
  }

  private alias(text: string, lineNo: number): YamlValue {
    const name = text.slice(1);
    if (!/^[^\s[\]{},]+$/.test(name)) fail(lineNo, `bad alias "${text}"`);
    if (!this.anchors.has(name)) fail(lineNo, `unknown anchor "*${name}"`);
    return this.anchors.get(name)!;
  }

  private literal(header: string, parentIndent: number, lineNo: number): string {
    const m = /^\|([-+]?)$/.exec(header);
    if (!m) fail(lineNo, `unsupported block scalar header "${header}" (only |, |- and |+)`);
    const lines: string[] = [];
    let contentIndent = -1;
    let i = this.pos;
    for (; i < this.raw.length; i++) {
      const raw = this.raw[i];
      if (raw.trim() === '') { lines.push(''); continue; }
      const ind = raw.length - raw.replace(/^ */, '').length;
      if (contentIndent < 0) {
        if (ind <= parentIndent) break;
        contentIndent = ind;
      }
      if (ind < contentIndent) break;
      lines.push(raw.slice(contentIndent));
    }
    this.pos = i;
    // trailing blank lines belong to the chomping, not the content
    let end = lines.length;
    while (end > 0 && lines[end - 1] === '') end--;
    const body = lines.slice(0, end).join('\n');
    if (m[1] === '-') return body;
    if (m[1] === '+') return `${body}\n${lines.slice(end).map(() => '\n').join('')}`;
    return body === '' ? '' : `${body}\n`;
  }

  /** `[a, "b", *c]` or `{ k: v }`, one level deep; may continue over following lines */
  private flow(first: string, lineNo: number): YamlValue {
    let text = first;
    const open = first[0];
    const close = open === '[' ? ']' : '}';
    while (!flowClosed(text)) {
      const i = this.next();
      if (i >= this.raw.length) fail(lineNo, `unclosed ${open}`);
      text += ` ${this.line(i).text.trim()}`;
      this.pos = i + 1;
    }
    const inner = text.trim();
    if (!inner.endsWith(close)) fail(lineNo, `unexpected text after ${close}`);
    const parts = splitFlow(inner.slice(1, -1), lineNo);
    if (open === '[') return parts.map((p) => (p.startsWith('*') ? this.alias(p, lineNo) : scalar(p, lineNo)));
    const out: YamlMap = {};
    for (const p of parts) {
      const kv = splitKey(p, lineNo);
      if (!kv) fail(lineNo, `expected "key: value" in {...}, got "${p}"`);
      out[kv.key] = kv.rest.startsWith('*') ? this.alias(kv.rest, lineNo) : scalar(kv.rest, lineNo);
    }
    return out;
  }
}

function isDash(text: string): boolean {
  return text === '-' || text.startsWith('- ');
}

function isMap(v: YamlValue): v is YamlMap {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Cuts a `#` comment that starts the text or follows whitespace, outside quotes. */
function stripComment(text: string): string {
  let quote: string | null = null;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    const prev = i === 0 ? ' ' : text[i - 1];
    if (quote) {
      if (quote === '"' && c === '\\') i++;
      else if (c === quote) quote = null;
    } else if ((c === '"' || c === "'") && /[\s[{,:]/.test(prev)) {
      quote = c;
    } else if (c === '#' && /\s/.test(prev)) {
      return text.slice(0, i);
    }
  }
  return text;
}

/** `key: rest` (plain or quoted key) or null when the text is not a mapping entry. */
function splitKey(text: string, lineNo: number): { key: string; rest: string } | null {
  if (text.startsWith('"') || text.startsWith("'")) {
    const end = quotedEnd(text, lineNo);
    const after = text.slice(end);
    const m = /^\s*:(?:\s+|$)(.*)$/.exec(after);
    return m ? { key: scalar(text.slice(0, end), lineNo) as string, rest: m[1].trim() } : null;
  }
  const m = /^([^\s].*?)\s*:(?:\s+|$)(.*)$/.exec(text);
  if (!m || /^[[{&*!|>%@`]/.test(m[1]) || m[1].startsWith('- ')) return null;
  return { key: m[1], rest: m[2].trim() };
}

/** index just past the closing quote of the quoted scalar at the start of `text` */
function quotedEnd(text: string, lineNo: number): number {
  const q = text[0];
  for (let i = 1; i < text.length; i++) {
    if (q === '"' && text[i] === '\\') { i++; continue; }
    if (text[i] === q) {
      if (q === "'" && text[i + 1] === "'") { i++; continue; }
      return i + 1;
    }
  }
  fail(lineNo, 'unclosed quote');
}

function flowClosed(text: string): boolean {
  let depth = 0;
  let quote: string | null = null;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quote) {
      if (quote === '"' && c === '\\') i++;
      else if (c === quote) quote = null;
    } else if (c === '"' || c === "'") quote = c;
    else if (c === '[' || c === '{') depth++;
    else if (c === ']' || c === '}') depth--;
  }
  return depth <= 0 && quote === null;
}

function splitFlow(inner: string, lineNo: number): string[] {
  const parts: string[] = [];
  let cur = '';
  let quote: string | null = null;
  for (let i = 0; i < inner.length; i++) {
    const c = inner[i];
    if (quote) {
      cur += c;
      if (quote === '"' && c === '\\') { cur += inner[++i] ?? ''; continue; }
      if (c === quote) quote = null;
    } else if (c === '"' || c === "'") { quote = c; cur += c; }
    else if (c === '[' || c === '{') fail(lineNo, 'nested flow collections are not supported');
    else if (c === ',') { parts.push(cur.trim()); cur = ''; }
    else cur += c;
  }
  if (cur.trim() !== '') parts.push(cur.trim());
  if (parts.some((p) => p === '')) fail(lineNo, 'empty item in flow collection');
  return parts;
}

const ESCAPES: Record<string, string> = { n: '\n', t: '\t', r: '\r', '0': '\0', '"': '"', '\\': '\\', '/': '/', ' ': ' ', e: '\x1b' };

function scalar(text: string, lineNo: number): YamlValue {
  const t = text.trim();
  if (t.startsWith('"') || t.startsWith("'")) {
    const end = quotedEnd(t, lineNo);
    if (end !== t.length) fail(lineNo, `text after a quoted scalar: "${t}"`);
    const body = t.slice(1, -1);
    if (t[0] === "'") return body.replace(/''/g, "'");
    return body.replace(/\\(x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4}|.)/g, (_, e: string) => {
      if (e.length > 1) return String.fromCharCode(parseInt(e.slice(1), 16));
      if (!(e in ESCAPES)) fail(lineNo, `unknown escape \\${e}`);
      return ESCAPES[e];
    });
  }
  if (/^[!&*%@`>|?]/.test(t) || /^-(\s|$)/.test(t)) fail(lineNo, `unsupported syntax "${t}" (quote it if it is text)`);
  if (/^(null|Null|NULL|~)?$/.test(t)) return null;
  if (/^(true|True|TRUE)$/.test(t)) return true;
  if (/^(false|False|FALSE)$/.test(t)) return false;
  if (/^[-+]?[0-9]+$/.test(t)) return Number(t);
  if (/^0o[0-7]+$/.test(t)) return parseInt(t.slice(2), 8);
  if (/^0x[0-9a-fA-F]+$/.test(t)) return parseInt(t.slice(2), 16);
  if (/^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$/.test(t)) return Number(t);
  return t;
}
