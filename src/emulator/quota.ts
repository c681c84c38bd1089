/**
 * The account's tokens-per-minute quota, as DashScope meters it (docs/protocols.md §5: TPM beyond the quota is
 * 429 Throttling.AllocationQuota): input plus output tokens of every request admitted in the last 60 s,
 * per model. A request is counted in full at admission (the emulator knows its answer before it streams
 * it), so the window holds exactly what was admitted; one that would take the window over the quota is
 * refused and counts nothing. RPM is the other half of the quota (stats.ts SlidingWindow, server.ts).
 * Pure: the caller passes the clock.
 */

/** At most `limit` tokens admitted in any `windowMs` window. */
export class TokenWindow {
  private entries: { at: number; tokens: number }[] = [];
  private head = 0;
  private sum = 0;
  constructor(
    readonly limit: number,
    readonly windowMs = 60_000,
  ) {
    if (!(limit > 0)) throw new RangeError(`limit must be positive, got ${limit}`);
  }

  /** Tokens admitted in the window ending at `now`. */
  used(now: number): number {
    while (this.head < this.entries.length && this.entries[this.head].at <= now - this.windowMs) {
      this.sum -= this.entries[this.head++].tokens;
    }
    if (this.head > 1024 && this.head * 2 > this.entries.length) {
      this.entries = this.entries.slice(this.head);
      this.head = 0;
    }
    return this.sum;
  }

  /**
   * Admits (and records) `tokens` at `now`, or refuses them. A request larger than the whole quota is
   * admitted into an empty window, as a real quota cannot refuse a request forever.
   */
  admit(now: number, tokens: number): boolean {
    const used = this.used(now);
    if (used + tokens > this.limit && !(used === 0 && tokens > this.limit)) return false;
    this.entries.push({ at: now, tokens });
    this.sum += tokens;
    return true;
  }

  reset(): void {
    this.entries = [];
    this.head = 0;
    this.sum = 0;
  }
}

/** One TokenWindow per model, made on first use; counts what it refused. */
export class TokenQuota {
  private windows = new Map<string, TokenWindow>();
  refused = 0;
  constructor(
    readonly tpm: number,
    readonly windowMs = 60_000,
  ) {}

  admit(model: string, now: number, tokens: number): boolean {
    let w = this.windows.get(model);
    if (!w) {
      w = new TokenWindow(this.tpm, this.windowMs);
      this.windows.set(model, w);
    }
    const ok = w.admit(now, tokens);
    if (!ok) this.refused++;
    return ok;
  }

  reset(): void {
    this.windows.clear();
    this.refused = 0;
  }
}
