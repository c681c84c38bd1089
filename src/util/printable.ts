/**
 * Text from strangers (object names, their error messages) made safe to print and to open. PURE.
 *
 * Why: an object may be named `\x1b]8;;https://evil\x07report.mp3` or hold `\x1b[2J`; printed raw, a terminal
 * obeys it (rewrites the screen, forges lines, plants links), and a CSV opened in a terminal pager does the
 * same. C0 controls, DEL, the C1 range (U+009B is a one-byte CSI to many terminals) and the bidirectional
 * overrides (which reorder what is shown: "Trojan source") are written as visible escapes instead.
 */
/** The characters escaped (a string source: the control characters are the point of this pattern). */
export const UNPRINTABLE_CLASS = '[\\u0000-\\u001f\\u007f-\\u009f\\u200e\\u200f\\u2028\\u2029\\u202a-\\u202e\\u2066-\\u2069]';
const UNPRINTABLE = new RegExp(UNPRINTABLE_CLASS, 'gu');
/** What JSON.stringify leaves raw: the C0 controls it escapes itself, and its own formatting uses newlines. */
const JSON_UNPRINTABLE = /[\u007f-\u009f\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/gu;

const hex = (c: string, width: number): string => c.charCodeAt(0).toString(16).padStart(width, '0');

/** `s` with every control or bidi character as `\xHH` / `\uHHHH`: one line, shown as it is. */
export function printable(s: string): string {
  return s.replace(UNPRINTABLE, (c) => (c.charCodeAt(0) <= 0xff ? `\\x${hex(c, 2)}` : `\\u${hex(c, 4)}`));
}

/**
 * A JSON text with the characters JSON.stringify leaves raw (C1, bidi, U+2028/9) as `\uHHHH` escapes: the
 * same value to any parser, nothing a terminal obeys. (C0 controls are escaped by JSON.stringify already.)
 */
export function jsonPrintable(json: string): string {
  return json.replace(JSON_UNPRINTABLE, (c) => `\\u${hex(c, 4)}`);
}
