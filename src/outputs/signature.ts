/**
 * Signed results: a later run skips an object only on a result this deployment wrote. PURE.
 *
 * Why: when the destination lies inside the source (or is it), whoever may upload may also write
 * `evil.wav.json` and `evil.wav.moderation.json`. The ETag in the result is the upload's own (MD5 on S3) and
 * the default fingerprint is the same for every default run, so a planted pair looked reusable: no request,
 * the forged `flagged: false` stood. Now each result carries an HMAC-SHA256, under the deployment's result
 * secret (app/result-secret.ts), over its canonical JSON, which includes the SHA-256 of each text output it
 * lists: a planted result has no valid MAC, a real one whose verdict file was replaced has a wrong digest.
 * Either is redone and the report counts it (`reuse.untrusted_results`).
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { canonicalJson } from './fingerprint.ts';

export const SIGNATURE_ALG = 'hmac-sha256';

export interface ResultSignature {
  alg: typeof SIGNATURE_ALG;
  /** output file name (as in `outputs`) -> hex SHA-256 of its bytes; binary outputs (speak's .wav) are not listed */
  digests: Record<string, string>;
  mac: string;
}

export function sha256Hex(body: string | Uint8Array): string {
  return createHash('sha256').update(body).digest('hex');
}

function macOf(doc: Record<string, unknown>, digests: Record<string, string>, secret: string): string {
  const { signature: _ignored, ...body } = doc;
  return createHmac('sha256', secret)
    .update(canonicalJson({ body, digests, alg: SIGNATURE_ALG }))
    .digest('hex');
}

/** The document with its signature: the MAC binds the document and the digests of its text outputs. */
export function signResult<T extends Record<string, unknown>>(doc: T, digests: Record<string, string>, secret: string): T & { signature: ResultSignature } {
  return { ...doc, signature: { alg: SIGNATURE_ALG, digests, mac: macOf(doc, digests, secret) } };
}

export type SignatureCheck = { ok: true; digests: Record<string, string> } | { ok: false; reason: 'unsigned' | 'forged'; detail: string };

/** Whether this deployment signed the document as it is now (its outputs' digests are checked by the caller). */
export function checkSignature(doc: Record<string, unknown>, secret: string): SignatureCheck {
  const sig = doc.signature as Partial<ResultSignature> | undefined;
  if (!sig || typeof sig !== 'object' || typeof sig.mac !== 'string' || !sig.digests || typeof sig.digests !== 'object') {
    return { ok: false, reason: 'unsigned', detail: 'the result carries no signature of this deployment' };
  }
  const want = Buffer.from(macOf(doc, sig.digests, secret), 'hex');
  const got = Buffer.from(sig.mac, 'hex');
  if (sig.alg !== SIGNATURE_ALG || got.length !== want.length || !timingSafeEqual(got, want)) {
    return { ok: false, reason: 'forged', detail: 'the result signature does not match: not written by this deployment, or changed since' };
  }
  return { ok: true, digests: sig.digests };
}
