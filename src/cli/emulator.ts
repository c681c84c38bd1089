/**
 * `omnibatch emulator`: the local API emulator on 127.0.0.1, until SIGINT/SIGTERM. Thin: flags -> options.
 */
import { type Command, InvalidArgumentError } from 'commander';
import { isLineFaultKind } from '../emulator/batch/options.ts';
import type { FaultKind } from '../emulator/faults.ts';
import { type EmulatorOptions, startEmulator } from '../emulator/server.ts';

function number(min: number, max = Infinity, integer = false) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isFinite(n) || n < min || n > max || (integer && !Number.isInteger(n))) {
      throw new InvalidArgumentError(`expected ${integer ? 'an integer' : 'a number'} in [${min}, ${max}]`);
    }
    return n;
  };
}
const rate = number(0, 1);
const ms = number(0, Infinity, true);
const count = number(1, Infinity, true);

function region(v: string): 'cn' | 'intl' {
  if (v !== 'cn' && v !== 'intl') throw new InvalidArgumentError('expected cn (Beijing) or intl (Singapore)');
  return v;
}

function lineFault(v: string): FaultKind {
  if (!isLineFaultKind(v)) throw new InvalidArgumentError('expected a fault kind refused before streaming (server_error, rate_limit, too_large, ...)');
  return v;
}

export function register(program: Command): void {
  program
    .command('emulator')
    .description('run the local Qwen-Omni API emulator (chat, responses and native protocols) on 127.0.0.1')
    .option('--port <n>', 'port to listen on (0 = any free port)', number(0, 65535, true), 8787)
    .option('--host <addr>', 'interface to bind (0.0.0.0 in a container)', '127.0.0.1')
    .option('--allowed-host <name...>', 'more Host names it answers to (a compose service name); others are refused')
    .option('--latency-ms <ms>', 'added response time, spread over each stream', number(0))
    .option('--ttfb-ms <ms>', 'delay before the first byte', number(0))
    .option('--rpm <n>', 'requests per minute before 429 Throttling.RateQuota', number(1, Infinity, true))
    .option('--tpm <n>', 'input + output tokens per model per minute before 429 Throttling.AllocationQuota', number(1, Infinity, true))
    .option('--max-concurrency <n>', 'requests in flight before 429 Throttling', number(1, Infinity, true))
    .option('--fail-5xx <rate>', 'share of requests answered 500/503 (0..1)', rate)
    .option('--fail-429 <rate>', 'share of requests answered 429 (0..1)', rate)
    .option('--retry-after <s>', 'send Retry-After: <s> on 429s', number(0, Infinity, true))
    .option('--cut <rate>', 'share of streams cut mid-way (0..1)', rate)
    .option('--stall <rate>', 'share of streams that stall mid-way (0..1)', rate)
    .option('--inspect-fail <rate>', 'share of requests refused with DataInspectionFailed (0..1)', rate)
    .option('--seed <n>', 'seed of the fault draws', number(0, 2 ** 32 - 1, true))
    .option('--api-key <key>', 'accept only this key (Bearer or raw)')
    .option(
      '--max-input-tokens <n>',
      "a stricter input-token ceiling than the model's: beyond it the real overflow envelope (400 InternalError.Algo.InvalidParameter)",
      number(1, Infinity, true),
    )
    .option('--template-text-tokens <n>', "hidden template text tokens the captioner's usage reports on top of the audio", number(0, Infinity, true))
    .option('--responses-audio-parts <n>', '/v1/responses: split the spoken answer over this many output_item.done events', number(1, Infinity, true))
    .option('--stream-content-type <type>', 'content-type of 2xx streams (default text/event-stream)')
    // Batch (file input): docs/protocols.md "Batch (file input)"
    .option('--region <cn|intl>', 'whose Batch model list applies: cn (Beijing, default) or intl (Singapore: no omni model)', region)
    .option('--batch-validating-ms <ms>', 'how long a batch stays validating (default 200)', ms)
    .option('--batch-in-progress-ms <ms>', 'the least a batch stays in_progress; its lines start evenly over it (default 1000)', ms)
    .option('--batch-finalizing-ms <ms>', 'how long a batch stays finalizing (default 200)', ms)
    .option('--batch-cancelling-ms <ms>', 'how long a batch stays cancelling once its running lines are done (default 200)', ms)
    .option('--batch-concurrency <n>', 'lines of one batch answered at once (default 4)', count)
    .option('--batch-max-requests <n>', 'requests per input file (default 50000)', count)
    .option('--batch-max-file-bytes <n>', 'bytes per input file (default 500 MB)', count)
    .option('--batch-max-line-bytes <n>', 'bytes per input line (default 6 MB)', count)
    .option('--batch-expire <rate>', 'share of batches that expire part-way (0..1)', rate)
    .option('--batch-expire-after <share>', 'share of lines done when such a batch expires (default 0.5)', rate)
    .option('--batch-fail-lines <rate>', 'share of batch lines refused with --batch-fail-kind (0..1)', rate)
    .option('--batch-fail-kind <kind>', 'the real-time fault those lines get (default server_error)', lineFault)
    .option('--batch-validation-fail <rate>', 'share of batches failed in validation (0..1)', rate)
    .option('--catalog <file>', "also serve a catalog file's models (a model shipped after the seeds), by their names and protocols")
    // commander names each option after its flag (--fail-5xx -> fail5xx): all are EmulatorOptions but --retry-after, --catalog
    // and --allowed-host
    .action(
      async (
        flags: Omit<EmulatorOptions, 'retryAfterS' | 'catalogFile' | 'allowedHosts'> & { retryAfter?: number; catalog?: string; allowedHost?: string[] },
      ) => {
        const { retryAfter, catalog, allowedHost, ...rest } = flags;
        const emu = await startEmulator({ ...rest, retryAfterS: retryAfter, allowedHosts: allowedHost, ...(catalog && { catalogFile: catalog }) });
        process.stdout.write(
          [
            `emulator listening on ${emu.url}`,
            `  OMNI_PROTOCOL=chat      OMNI_BASE_URL=${emu.url}/compatible-mode/v1`,
            `  OMNI_PROTOCOL=responses OMNI_BASE_URL=${emu.url}/v1`,
            `  OMNI_PROTOCOL=dashscope OMNI_BASE_URL=${emu.url}/api/v1`,
            `  stats: ${emu.url}/stats`,
            '',
          ].join('\n'),
        );
        await new Promise<void>((resolve) => {
          const stop = () => {
            process.off('SIGINT', stop);
            process.off('SIGTERM', stop);
            resolve();
          };
          process.on('SIGINT', stop);
          process.on('SIGTERM', stop);
        });
        await emu.close();
        process.stdout.write('emulator stopped\n');
      },
    );
}
