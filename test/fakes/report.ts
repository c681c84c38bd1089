/** report's ports in memory (src/workers/report.ts ReportPorts): one store, a run's collected documents, and what was done. */
import type { CollectedReport } from '../../src/lifecycle/run-report.ts';
import type { RunSpec, RunState } from '../../src/runs/types.ts';
import { silentLogger } from '../../src/util/logger.ts';
import type { ReportPorts } from '../../src/workers/report.ts';
import { MemoryStorage } from './storage.ts';

export interface FakeReport {
  ports: ReportPorts;
  dst: MemoryStorage;
  finals: { runId: string; status: RunState['status']; retentionS: number }[];
  reportFailures: { runId: string; message: string }[];
  expired: { runId: string; seconds: number }[];
  calibrated: { runId: string; model: string }[];
  notified: Parameters<ReportPorts['enqueueNotify']>[0][];
}

export function fakeReportPorts(spec: RunSpec, collected: CollectedReport, opts: { generation?: number; retentionDays?: number } = {}): FakeReport {
  const dst = new MemoryStorage();
  const f: Omit<FakeReport, 'ports'> = { dst, finals: [], reportFailures: [], expired: [], calibrated: [], notified: [] };
  const ports: ReportPorts = {
    spec: async () => spec,
    collect: async () => collected,
    runs: {
      generation: async () => opts.generation ?? 0,
      setFinal: async (runId, status, retentionS) => {
        f.finals.push({ runId, status, retentionS });
      },
      reportFailed: async (runId, message) => {
        f.reportFailures.push({ runId, message });
      },
    },
    storage: () => dst,
    calibrate: async (runId, s) => {
      f.calibrated.push({ runId, model: s.model });
    },
    expireCosts: async (runId, seconds) => {
      f.expired.push({ runId, seconds });
    },
    enqueueNotify: async (n) => {
      f.notified.push(n);
    },
    retentionDays: opts.retentionDays ?? 7,
    log: silentLogger,
  };
  return { ports, ...f };
}
