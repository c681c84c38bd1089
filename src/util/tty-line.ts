/**
 * The one live status line of a terminal (the `run --wait` progress bar) and the log lines that must not break
 * it: a log line clears the bar, is written above it, and the bar is drawn again under it. Without a bar shown,
 * writes pass straight through.
 */
const CLEAR = '\r\x1b[2K';

export interface TtyLine {
  show(line: string): void;
  /** the last bar, kept on screen with a newline: nothing is redrawn after it */
  done(line: string): void;
  /** a log line (ending in a newline) */
  write(text: string): void;
}

export function createTtyLine(out: { write(s: string): unknown } = process.stderr): TtyLine {
  let current: string | undefined;
  return {
    show(line) {
      current = line;
      out.write(`${CLEAR}${line}`);
    },
    done(line) {
      current = undefined;
      out.write(`${CLEAR}${line}\n`);
    },
    write(text) {
      out.write(current === undefined ? text : `${CLEAR}${text}${text.endsWith('\n') ? '' : '\n'}${current}`);
    },
  };
}

export const ttyLine: TtyLine = createTtyLine();
