/**
 * Secrets never reach a log line or a stored message: a real presigned URL (signature, security token),
 * API keys, bearer tokens and AWS keys, through the real pino logger at debug, through the CLI at
 * `--log-level debug`, and through what is stored (run state in real Redis, failures.jsonl).
 */
import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createContext } from '../../src/app/context.ts';
import { loadConfig } from '../../src/config/index.ts';
import { locateFfmpeg } from '../../src/media/ffmpeg.ts';
import { failureLine } from '../../src/outputs/failures.ts';
import { openStorage } from '../../src/storage/index.ts';
import { describeError, OmniError } from '../../src/util/errors.ts';
import { createLogger, silentLogger } from '../../src/util/logger.ts';
import { clearRegisteredSecrets, REDACTED, redactErrorInPlace, redactText, redactValue, registerSecrets } from '../../src/util/redact.ts';
import { runCli } from '../helpers/cli.ts';
import { dropKeys } from '../helpers/redis.ts';
import { type S3rverHandle, startS3rver } from '../helpers/s3rver.ts';

const ACCESS_KEY_ID = 'ASIAQWERTYUIOPASDFGH';
const SESSION_TOKEN = `FwoGZXIvYXdzE${randomUUID().replace(/-/g, '')}token`;

/** A presigned GET from the real storage adapter with temporary credentials (no request is made). */
async function presigned(): Promise<{ url: string; signature: string; token: string; credential: string }> {
  const saved = { ...process.env };
  Object.assign(process.env, {
    AWS_ACCESS_KEY_ID: ACCESS_KEY_ID,
    AWS_SECRET_ACCESS_KEY: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',
    AWS_SESSION_TOKEN: SESSION_TOKEN,
  });
  try {
    const store = openStorage('s3://media/in/', { s3Endpoint: 'http://127.0.0.1:9', awsRegion: 'us-east-1' });
    const url = await store.presignGet('clip.mp3', 900);
    const q = new URL(url).searchParams;
    return { url, signature: q.get('X-Amz-Signature')!, token: q.get('X-Amz-Security-Token')!, credential: q.get('X-Amz-Credential')! };
  } finally {
    for (const k of ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN']) {
      if (saved[k] === undefined) delete process.env[k];
      else process.env[k] = saved[k];
    }
  }
}

function capture(): { sink: Writable; text: () => string } {
  let logged = '';
  return {
    sink: new Writable({
      write(chunk, _enc, cb) {
        logged += chunk.toString();
        cb();
      },
    }),
    text: () => logged,
  };
}

afterEach(() => clearRegisteredSecrets());

describe('redactText', () => {
  it('cuts URL queries and user:password, masks secret shapes, and leaves ordinary text alone', () => {
    expect(redactText('GET https://b.s3.amazonaws.com/in/a.mp3?X-Amz-Signature=abc&X-Amz-Security-Token=t failed')).toBe(
      `GET https://b.s3.amazonaws.com/in/a.mp3?${REDACTED} failed`,
    );
    expect(redactText('redis://:hunter2hunter2@redis:6379/0')).toBe(`redis://${REDACTED}@redis:6379/0`);
    expect(redactText('Authorization: Bearer sk-abcdef1234567890XYZ')).not.toMatch(/abcdef1234567890/);
    expect(redactText('key sk-proj-AbC123dEf456gHi789 was refused')).toBe(`key sk-${REDACTED} was refused`);
    expect(redactText('Basic b3BzOnMzY3JldA==')).toBe(`Basic ${REDACTED}`);
    expect(redactText(`id ${ACCESS_KEY_ID} in use`)).toBe(`id ${REDACTED} in use`);
    expect(redactText('aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY')).toBe(`aws_secret_access_key = ${REDACTED}`);
    expect(redactText('{"sessionToken":"abc.def"}')).toBe(`{"sessionToken":"${REDACTED}"}`);
    expect(redactText('X-Amz-Security-Token: FQoGZXIvYXdz')).toBe(`X-Amz-Security-Token: ${REDACTED}`);
    expect(redactText('Authorization: Basic b3BzOnMzY3JldA')).toBe(`Authorization: Basic ${REDACTED}`);
    const plain = 'task-42 at s3://media/in/a b.mp3 (etag 9b2cf535f27731c974343645a3985328, sha ok): media_corrupt';
    expect(redactText(plain)).toBe(plain);
    for (const name of ['s3://m/in/Basic training 2024.mp3', '/in/desk-lamp-review-sk-notes.mp3', 'Bearer of bad news', 'the token bucket is full']) {
      expect(redactText(name)).toBe(name);
    }
  });

  it('masks configured secrets by value, whatever their shape', () => {
    registerSecrets(['plain-looking-key-123', 'abc', undefined]);
    expect(redactText('the service said: invalid key plain-looking-key-123.')).toBe(`the service said: invalid key ${REDACTED}.`);
    expect(redactText('abc stays: too short to mask by value')).toContain('abc');
  });

  it('redacts every string at any depth, errors included, without touching the input', () => {
    const input = {
      a: ['x', { b: 'https://h/p?sig=1' }],
      e: new OmniError('storage_rejected', 'PUT https://h/k?X-Amz-Signature=zz refused'),
    };
    const out = redactValue(input) as { a: [string, { b: string }]; e: { message: string; code: string; stack: string } };
    expect(out.a[1].b).toBe(`https://h/p?${REDACTED}`);
    expect(out.e).toMatchObject({ message: `PUT https://h/k?${REDACTED} refused`, code: 'storage_rejected' });
    expect(out.e.stack).not.toContain('X-Amz-Signature=zz');
    expect(input.a[1]).toEqual({ b: 'https://h/p?sig=1' });
  });
});

describe('the logger at debug', () => {
  it("never writes a presigned URL's signature, security token or key id, in any field or the message", async () => {
    const p = await presigned();
    expect(p.signature).toMatch(/^[0-9a-f]{64}$/);
    expect(p.token).toBe(SESSION_TOKEN);
    const { sink, text } = capture();
    const log = createLogger({ level: 'debug', pretty: false, destination: sink });
    registerSecrets(['configured-api-key-0042']);

    log.debug({ input: p.url, why: 'no duration in the header' }, 'duration measured');
    log.debug({ bin: 'ffprobe', args: ['-v', 'error', '-i', p.url] }, 'spawn');
    log.debug(`fetching ${p.url}`);
    log.debug('printf %s and %s', p.url, 'Bearer configured-api-key-0042');
    log.child({ media: p.url }).debug('child bindings');
    log.debug({ err: new Error(`GET ${p.url} -> 403`) }, 'request failed');
    log.debug(new Error(`boom at ${p.url}`));
    log.debug({ deep: { deeper: { list: [{ u: p.url }, `key ${ACCESS_KEY_ID}`] } } }, 'nested');
    log.debug({ request: { headers: { 'x-amz-security-token': p.token, Authorization: 'Bearer configured-api-key-0042' } } }, 'headers');
    log.debug({ provider: 'invalid api key: configured-api-key-0042' }, 'refused');

    const out = text();
    expect(out.split('\n').filter(Boolean)).toHaveLength(10);
    for (const secret of [p.signature, p.token, p.credential, ACCESS_KEY_ID, 'configured-api-key-0042', 'X-Amz-Signature=']) {
      expect(out, secret).not.toContain(secret);
    }
    // what is needed to debug stays: where the request went
    expect(out).toContain('/media/in/clip.mp3?[redacted]');
    expect(out).toContain('"level":20');
  });

  it('`omnibatch estimate s3://... --log-level debug` logs no signature, token or key id', async () => {
    const s3: S3rverHandle = await startS3rver({ buckets: ['redact'] });
    const dir = await mkdtemp(path.join(os.tmpdir(), 'omnibatch-redact-'));
    try {
      // a CBR MP3 without a Xing header: its duration is estimated from the bitrate, so the probe measures it
      const mp3 = path.join(dir, 'tone.mp3');
      const made = spawnSync(
        locateFfmpeg().ffmpeg,
        [
          '-hide_banner',
          '-nostdin',
          '-loglevel',
          'error',
          '-f',
          'lavfi',
          '-i',
          'sine=frequency=300:duration=3',
          '-ac',
          '1',
          '-ar',
          '16000',
          '-b:a',
          '32k',
          '-write_xing',
          '0',
          mp3,
        ],
        { timeout: 30_000 },
      );
      expect(made.status).toBe(0);
      const env = {
        ...process.env,
        ...s3.env,
        S3_ENDPOINT: s3.endpoint,
        AWS_SESSION_TOKEN: SESSION_TOKEN,
        OMNIBATCH_PREFIX: `test-redact-${randomUUID().slice(0, 8)}`,
        CI: '1',
      };
      const saved = { ...process.env };
      Object.assign(process.env, s3.env);
      try {
        await openStorage('s3://redact/in/', { s3Endpoint: s3.endpoint }).upload(mp3, 'tone.mp3', 'audio/mpeg');
      } finally {
        for (const k of Object.keys(s3.env))
          if (saved[k] === undefined) delete process.env[k];
          else process.env[k] = saved[k];
      }
      const { code, stdout, stderr } = await runCli(['estimate', 's3://redact/in/', '--task', 'transcribe', '--json', '--log-level', 'debug'], {
        baseEnv: env,
        env: { NODE_OPTIONS: '--openssl-legacy-provider' },
        timeoutMs: 60_000,
      });
      expect(code, stderr).toBe(0);
      expect(JSON.parse(stdout).files).toBe(1);
      expect(stderr).toContain('"level":20');
      expect(stderr).not.toMatch(/X-Amz-Signature=[0-9a-f]/i);
      expect(stderr).not.toMatch(/X-Amz-Credential=[A-Z0-9]/i);
      expect(stderr).not.toContain(SESSION_TOKEN);
      expect(stderr).not.toContain(encodeURIComponent(SESSION_TOKEN));
    } finally {
      await s3.stop();
      await rm(dir, { recursive: true, force: true });
    }
  }, 90_000);
});

describe('stored error messages', () => {
  const prefix = `test-redact-${randomUUID().slice(0, 8)}`;
  const ctx = createContext(
    loadConfig({ flags: { queuePrefix: prefix, logLevel: 'silent' }, env: { OMNI_API_KEY: 'sk-configured-key-000111' } }),
    silentLogger,
  );
  beforeAll(() => registerSecrets(['sk-configured-key-000111']));
  afterAll(async () => {
    await dropKeys(ctx.redis, prefix);
    await ctx.close();
  });

  it('pass through the same redaction: describeError, run state in Redis, failures.jsonl', async () => {
    registerSecrets(['sk-configured-key-000111']);
    const url = 'https://media.s3.amazonaws.com/in/a.mp3?X-Amz-Signature=deadbeefcafe&X-Amz-Security-Token=tok';
    const provider = new OmniError('auth', `Incorrect API key provided: sk-configured-key-000111 (while fetching ${url})`);
    const d = describeError(provider);
    expect(d.message).not.toMatch(/configured-key|deadbeefcafe|Security-Token=tok/);
    expect(describeError(new Error(`connect ECONNREFUSED for ${url}`)).message).toBe(
      `connect ECONNREFUSED for https://media.s3.amazonaws.com/in/a.mp3?${REDACTED}`,
    );

    // the store redacts what it is given, whoever calls it
    const runId = `r-${randomUUID().slice(0, 6)}`;
    const spec = {
      runId,
      createdAt: new Date().toISOString(),
      source: '/in/',
      destination: '/out/',
      task: 'caption',
      model: 'qwen3-omni-flash',
      protocol: 'chat',
      region: 'intl',
      force: false,
      fingerprint: 'f',
      inputMode: 'base64',
    } as const;
    await ctx.runs.create(spec as never);
    const file = { key: 'in/a.mp3', uri: '/in/a.mp3', etag: 'e', size: 1, status: 'pending' as const };
    await ctx.runs.registerFile(runId, 'f0', file);
    await ctx.runs.finishFile(runId, 'f0', { ...file, status: 'failed', code: 'auth', message: provider.message });
    await ctx.runs.stop(runId, 'auth', `auth: ${provider.message}`);
    const raw =
      JSON.stringify(await ctx.redis.hgetall(`${ctx.keyPrefix}:run:${runId}:files`)) +
      JSON.stringify(await ctx.redis.hgetall(`${ctx.keyPrefix}:run:${runId}:state`));
    const stored = JSON.stringify(await ctx.runs.file(runId, 'f0')) + JSON.stringify(await ctx.runs.state(runId));
    for (const text of [raw, stored]) {
      expect(text).toContain('auth');
      expect(text).not.toMatch(/configured-key|deadbeefcafe|Security-Token=tok/);
    }

    // a retried attempt's error is kept by BullMQ (failedReason, stacktrace): redacted where it stands
    const thrown = new Error(`503 from ${url}`);
    redactErrorInPlace(thrown);
    expect(`${thrown.message}\n${thrown.stack}`).not.toMatch(/deadbeefcafe|Security-Token=tok/);

    const line = failureLine({ uri: url, code: 'auth', message: provider.message });
    expect(line).not.toMatch(/configured-key|deadbeefcafe/);
    expect(JSON.parse(line)).toMatchObject({ uri: `https://media.s3.amazonaws.com/in/a.mp3?${REDACTED}`, code: 'auth' });
  });
});
