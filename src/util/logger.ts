import { Writable } from 'node:stream';
import { type Logger, type LoggerOptions, pino } from 'pino';
import pretty from 'pino-pretty';
import { redactText, redactValue } from './redact.ts';
import { ttyLine } from './tty-line.ts';

export type { Logger };

/**
 * Secrets are redacted by the logger config, not by care, at every level (debug included):
 *  - any field with one of these names, at the top level or one or two levels down, is replaced;
 *  - every string of every field (any depth, errors included), of child bindings and of the message
 *    passes through redactText: URL query strings and credentials, secret shapes, configured secrets.
 */
const SECRET_FIELDS = [
  'apiKey',
  'api_key',
  'authorization',
  'Authorization',
  'secret',
  'password',
  'secretAccessKey',
  'accessKeyId',
  'sessionToken',
  'webhookSecret',
  'x-api-key',
  'token',
];
export const REDACT_PATHS = SECRET_FIELDS.flatMap((f) => [f, `*.${f}`, `*.*.${f}`]);

export function createLogger(opts: { level?: string; pretty?: boolean; destination?: NodeJS.WritableStream } = {}): Logger {
  const options: LoggerOptions = {
    level: opts.level ?? 'info',
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    base: { pid: process.pid },
    formatters: {
      // `err` stays an Error here so pino's serializer keeps its type; the serializer below redacts it
      log: (obj) => Object.fromEntries(Object.entries(obj).map(([k, v]) => [k, k === 'err' && v instanceof Error ? v : redactValue(v)])),
      bindings: (bindings) => redactValue(bindings) as Record<string, unknown>,
    },
    // Anything but an Error (a string, a plain object) is kept as it is, redacted: never spread into characters.
    serializers: { err: (e: unknown) => redactValue(e instanceof Error ? { ...pino.stdSerializers.err(e) } : e) },
    hooks: {
      // the message and its printf arguments; objects go through formatters.log
      logMethod(args, method) {
        let clean: unknown[] = args.map((a) => (typeof a === 'string' ? redactText(a) : a));
        // log.x(err): pino would take the message from the error itself, unredacted
        if (clean[0] instanceof Error) {
          const err = clean[0];
          clean = [{ err }, ...(typeof clean[1] === 'string' ? clean.slice(1) : [redactText(err.message), ...clean.slice(1)])];
        }
        return method.apply(this, clean as Parameters<typeof method>);
      },
    },
  };
  // the CLI decides (cli/common.ts loggerFor: a terminal, and not CI); anything else logs JSON lines
  if (opts.pretty) {
    // Pretty in this thread (not a transport's worker): each line goes through the terminal's status line, so a
    // log line lands above a progress bar instead of through it (tty-line.ts).
    const through = new Writable({
      write(chunk: Buffer, _enc, done) {
        ttyLine.write(chunk.toString('utf8'));
        done();
      },
    });
    return redactChildBindings(pino(options, pretty({ colorize: true, destination: through, sync: true })));
  }
  return redactChildBindings(pino(options, (opts.destination as pino.DestinationStream | undefined) ?? pino.destination(2)));
}

/**
 * pino applies `formatters.bindings` to the root's bindings only; a child's (`log.child({ url })`) are
 * serialized once at creation. Children inherit this `child`, so bindings at every depth are redacted.
 */
function redactChildBindings(logger: Logger): Logger {
  const original = logger.child;
  logger.child = function child(this: Logger, bindings: Record<string, unknown>, options?: object) {
    return original.call(this, redactValue(bindings) as Record<string, unknown>, options as never);
  } as Logger['child'];
  return logger;
}

/** A logger that writes nothing: for library code called without one (tests of pure parts). */
export const silentLogger: Logger = pino({ level: 'silent' });
