import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { emptyUsage } from '../../src/models/types.ts';
import type { RunningServer } from '../../src/ops/http.ts';
import { createMetrics, type Metrics, startMetricsServer } from '../../src/ops/metrics.ts';
import { startCli } from '../helpers/cli.ts';

/** `name{labels} value` lines of a Prometheus text exposition -> map (HELP/TYPE lines dropped). */
function samples(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const at = line.lastIndexOf(' ');
    out.set(line.slice(0, at), Number(line.slice(at + 1)));
  }
  return out;
}

function record(m: Metrics): void {
  m.jobFinished('infer', 'completed');
  m.jobFinished('infer', 'completed');
  m.jobFinished('prepare', 'failed');
  m.jobFinished('scan', 'skipped');
  const endA = m.jobStarted('infer');
  m.jobStarted('infer');
  m.jobStarted('prepare')();
  endA();
  endA(); // a second end of the same job must not count twice
  m.requestObserved({ model: 'qwen3-omni-flash', protocol: 'chat', outcome: 'ok', seconds: 0.3 });
  m.requestObserved({ model: 'qwen3-omni-flash', protocol: 'chat', outcome: 'ok', seconds: 4 });
  m.requestObserved({ model: 'qwen3-omni-flash', protocol: 'chat', outcome: 'rate_limited', seconds: 0.05 });
  const usage = emptyUsage();
  usage.input.audio = 375;
  usage.input.text = 20;
  usage.output.text = 120;
  m.tokens(usage, 'qwen3-omni-flash');
  m.tokens(usage, 'qwen3-omni-flash');
  m.cost({ amountMicros: 1_620, currency: 'USD', priced: true }, 'qwen3-omni-flash');
  m.cost({ amountMicros: 0, currency: null, priced: false }, 'mystery-model');
  m.retry('infer', 'server_error');
  m.bytes('downloaded', 1_000_000);
  m.bytes('uploaded', 2_048);
  m.mediaSeconds('caption', 30);
  m.mediaSeconds('caption', 12.5);
}

describe('metrics', () => {
  let server: RunningServer | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  it('serves every omnibatch_ series with the recorded values at /metrics', async () => {
    const m = createMetrics();
    record(m);
    server = await startMetricsServer(0, { host: '127.0.0.1', metrics: m });
    const res = await fetch(`${server.url}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const s = samples(await res.text());

    expect(s.get('omnibatch_jobs_total{stage="infer",state="completed"}')).toBe(2);
    expect(s.get('omnibatch_jobs_total{stage="prepare",state="failed"}')).toBe(1);
    expect(s.get('omnibatch_jobs_total{stage="scan",state="skipped"}')).toBe(1);
    expect(s.get('omnibatch_jobs_active{stage="infer"}')).toBe(1);
    expect(s.get('omnibatch_jobs_active{stage="prepare"}')).toBe(0);

    const ok = 'model="qwen3-omni-flash",protocol="chat",outcome="ok"';
    expect(s.get(`omnibatch_request_duration_seconds_count{${ok}}`)).toBe(2);
    expect(s.get(`omnibatch_request_duration_seconds_sum{${ok}}`)).toBeCloseTo(4.3, 9);
    expect(s.get(`omnibatch_request_duration_seconds_bucket{le="0.5",${ok}}`)).toBe(1);
    expect(s.get(`omnibatch_request_duration_seconds_bucket{le="5",${ok}}`)).toBe(2);
    expect(s.get(`omnibatch_request_duration_seconds_bucket{le="+Inf",${ok}}`)).toBe(2);
    expect(s.get('omnibatch_request_duration_seconds_count{model="qwen3-omni-flash",protocol="chat",outcome="rate_limited"}')).toBe(1);
    expect(s.get('omnibatch_rate_limited_total{model="qwen3-omni-flash"}')).toBe(1);

    expect(s.get('omnibatch_tokens_total{model="qwen3-omni-flash",direction="input",modality="audio"}')).toBe(750);
    expect(s.get('omnibatch_tokens_total{model="qwen3-omni-flash",direction="input",modality="text"}')).toBe(40);
    expect(s.get('omnibatch_tokens_total{model="qwen3-omni-flash",direction="output",modality="text"}')).toBe(240);
    expect(s.has('omnibatch_tokens_total{model="qwen3-omni-flash",direction="input",modality="video"}')).toBe(false);

    expect(s.get('omnibatch_cost_micros_total{model="qwen3-omni-flash",currency="USD"}')).toBe(1_620);
    // an unknown price is never shown as money spent
    expect([...s.keys()].some((k) => k.includes('mystery-model'))).toBe(false);

    expect(s.get('omnibatch_retries_total{stage="infer",code="server_error"}')).toBe(1);
    expect(s.get('omnibatch_bytes_total{direction="downloaded"}')).toBe(1_000_000);
    expect(s.get('omnibatch_bytes_total{direction="uploaded"}')).toBe(2_048);
    expect(s.get('omnibatch_media_seconds_total{task="caption"}')).toBe(42.5);

    // Node's default process metrics, under their standard names
    expect(s.has('process_cpu_user_seconds_total')).toBe(true);
    expect(s.has('nodejs_heap_size_used_bytes')).toBe(true);
  });

  it('answers /healthz with 200, or 503 when its check fails; other paths 404', async () => {
    let healthy = true;
    server = await startMetricsServer(0, {
      host: '127.0.0.1',
      metrics: createMetrics({ defaultMetrics: false }),
      health: async () => {
        if (!healthy) throw new Error('redis unreachable');
      },
    });
    const up = await fetch(`${server.url}/healthz`);
    expect(up.status).toBe(200);
    expect(await up.json()).toEqual({ status: 'ok', detail: 'ok' });
    healthy = false;
    const down = await fetch(`${server.url}/healthz`);
    expect(down.status).toBe(503);
    expect(await down.json()).toEqual({ status: 'unhealthy', detail: 'redis unreachable' });
    expect((await fetch(`${server.url}/nope`)).status).toBe(404);
    expect((await fetch(`${server.url}/metrics`, { method: 'POST' })).status).toBe(405);
  });

  it('keeps two metric sets apart and refuses a port that is taken', async () => {
    const a = createMetrics({ defaultMetrics: false });
    const b = createMetrics({ defaultMetrics: false });
    a.jobFinished('finalize', 'completed');
    expect(await a.render()).toContain('omnibatch_jobs_total{stage="finalize",state="completed"} 1');
    // b recorded nothing: its series stand at zero (an idle process still exports them)
    expect(await b.render()).toContain('omnibatch_jobs_total{stage="finalize",state="completed"} 0');
    server = await startMetricsServer(0, { host: '127.0.0.1', metrics: a });
    await expect(startMetricsServer(server.port, { host: '127.0.0.1', metrics: b })).rejects.toMatchObject({ code: 'listen_failed' });
  });
});

/** The local addresses listening on `port`, from the kernel's socket tables (no connection is made). */
function listeningOn(port: number): string[] {
  const hexPort = port.toString(16).toUpperCase().padStart(4, '0');
  const out: string[] = [];
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text = '';
    try {
      text = readFileSync(table, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length < 4 || f[3] !== '0A') continue; // 0A: LISTEN
      const [addr, p] = f[1].split(':');
      if (p !== hexPort) continue;
      out.push(
        addr.length === 8
          ? addr
              .match(/../g)!
              .reverse()
              .map((h) => parseInt(h, 16))
              .join('.')
          : addr === '0'.repeat(32)
            ? '::'
            : addr,
      );
    }
  }
  return out;
}

describe('metrics bind address', () => {
  it('binds 127.0.0.1 when no host is given', async () => {
    const s = await startMetricsServer(0, { metrics: createMetrics({ defaultMetrics: false }) });
    try {
      expect(listeningOn(s.port)).toEqual(['127.0.0.1']);
    } finally {
      await s.close();
    }
  });

  it('`omnibatch worker --metrics-port 0` listens on loopback only', async () => {
    const prefix = `test-metrics-${randomUUID().slice(0, 8)}`;
    const worker = startCli(['worker', '--metrics-port', '0', '--stages', 'report'], { env: { OMNIBATCH_PREFIX: prefix, LOG_LEVEL: 'info', CI: '1' } });
    try {
      const port = Number((await worker.waitFor('stderr', /"metricsPort":(\d+)/, 30_000))[1]);
      expect(listeningOn(port)).toEqual(['127.0.0.1']);
    } finally {
      await worker.stop('SIGTERM');
    }
  }, 40_000);
});
