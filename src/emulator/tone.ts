/**
 * Is a tone in a recording? The emulator hears its test markers with it (marker.ts), and the hostile scenario
 * its canary: a request that carried the canary file's
 * audio (a 1234 Hz tone) would show it in some half-second window. Pure.
 */

/**
 * The largest share of a window's energy at `hz` (Goertzel), over 16-bit mono PCM at `rate`, in windows of
 * `windowS` seconds stepped by half a window. A pure tone whose window holds whole cycles scores 1 (1234 Hz in
 * 0.5 s at 16 kHz: 617 cycles); speech, noise and other tones score near 0. Near-silent windows are skipped.
 */
export function toneShare(pcm: Int16Array, hz: number, rate = 16_000, windowS = 0.5): number {
  const n = Math.round(rate * windowS);
  const coeff = 2 * Math.cos((2 * Math.PI * hz) / rate);
  let best = 0;
  for (let start = 0; start + n <= pcm.length; start += Math.floor(n / 2)) {
    let s1 = 0;
    let s2 = 0;
    let energy = 0;
    for (let i = start; i < start + n; i++) {
      const x = pcm[i] / 32768;
      energy += x * x;
      const s0 = x + coeff * s1 - s2;
      s2 = s1;
      s1 = s0;
    }
    if (energy < 1e-6) continue;
    const power = s1 * s1 + s2 * s2 - coeff * s1 * s2;
    best = Math.max(best, (2 * power) / (n * energy));
  }
  return best;
}
