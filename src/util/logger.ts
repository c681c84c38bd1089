import { pino, type Logger, type LoggerOptions } from 'pino';

export type { Logger };

/**
 * Secrets are redacted by the logger config, not by care: any field with one of these names, at the
 * top level or one or two levels down, is replaced before it is written.
 */
const SECRET_FIELDS = ['apiKey', 'api_key', 'authorization', 'Authorization', 'secret', 'password',
  'secretAccessKey', 'accessKeyId', 'sessionToken', 'webhookSecret', 'x-api-key', 'token'];
export const REDACT_PATHS = SECRET_FIELDS.flatMap((f) => [f, `*.${f}`, `*.*.${f}`]);

export function createLogger(opts: { level?: string; pretty?: boolean; destination?: NodeJS.WritableStream } = {}): Logger {
  const options: LoggerOptions = {
    level: opts.level ?? process.env.LOG_LEVEL ?? 'info',
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    base: { pid: process.pid },
  };
  if (opts.pretty ?? (process.stderr.isTTY && !process.env.CI)) {
    return pino({ ...options, transport: { target: 'pino-pretty', options: { destination: 2, colorize: true } } });
  }
  return pino(options, (opts.destination as pino.DestinationStream | undefined) ?? pino.destination(2));
}

let root: Logger | undefined;
/** The process's root logger; commands call `setRootLogger` once after reading flags. */
export function rootLogger(): Logger {
  root ??= createLogger();
  return root;
}
export function setRootLogger(logger: Logger): void {
  root = logger;
}
/** A logger that writes nothing: for library code called without one (tests of pure parts). */
export const silentLogger: Logger = pino({ level: 'silent' });
