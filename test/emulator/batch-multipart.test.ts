// The streaming multipart reader of POST /files: the file part lands on disk byte for byte whatever the chunking,
// the fields are kept, a body over the limit or not multipart is refused.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import { multipartBoundary, readMultipart } from '../../src/emulator/batch/multipart.ts';

const dir = mkdtempSync(path.join(os.tmpdir(), 'batch-multipart-test-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const B = 'xYzBoundary42';
function body(file: Buffer, purposeFirst = true): Buffer {
  const purpose = `--${B}\r\nContent-Disposition: form-data; name="purpose"\r\n\r\nbatch\r\n`;
  const filePart = Buffer.concat([
    Buffer.from(`--${B}\r\nContent-Disposition: form-data; name="file"; filename="in.jsonl"\r\nContent-Type: application/octet-stream\r\n\r\n`),
    file,
    Buffer.from('\r\n'),
  ]);
  const parts = purposeFirst ? [Buffer.from(purpose), filePart] : [filePart, Buffer.from(purpose)];
  return Buffer.concat([...parts, Buffer.from(`--${B}--\r\n`)]);
}
const chunks = (b: Buffer, size: number) => Readable.from(Array.from({ length: Math.ceil(b.length / size) }, (_, i) => b.subarray(i * size, (i + 1) * size)));

describe('readMultipart', () => {
  // Content that looks like a delimiter's start, CRLFs and dashes: only the real delimiter ends the part.
  const file = Buffer.from(`{"a":1}\r\n--${B.slice(0, 5)}\r\n--\r\n{"b":"\r\n-"}\n`.repeat(50));

  it.each([1, 2, 3, 7, 16, 64, 1000, 1 << 20])('writes the file exactly, in chunks of %i bytes', async (size) => {
    for (const purposeFirst of [true, false]) {
      const at = path.join(dir, `f${size}-${purposeFirst}`);
      const r = await readMultipart(chunks(body(file, purposeFirst), size), B, at, 1 << 20);
      expect(r).toEqual({ fields: { purpose: 'batch' }, file: { field: 'file', filename: 'in.jsonl', bytes: file.length } });
      expect(readFileSync(at).equals(file)).toBe(true);
    }
  });

  it('stops at the byte limit', async () => {
    expect(await readMultipart(chunks(body(file), 100), B, path.join(dir, 'big'), 500)).toBe('too_large');
  });

  it('refuses a body without the closing delimiter, or a part without a name', async () => {
    const cut = body(file).subarray(0, 300);
    expect(await readMultipart(chunks(cut, 50), B, path.join(dir, 'cut'), 1 << 20)).toBe('malformed');
    const nameless = Buffer.from(`--${B}\r\nContent-Disposition: form-data\r\n\r\nx\r\n--${B}--\r\n`);
    expect(await readMultipart(chunks(nameless, 10), B, path.join(dir, 'nameless'), 1 << 20)).toBe('malformed');
  });

  it('a client gone mid-upload is a malformed body, not a crash', async () => {
    const head = body(file).subarray(0, 400);
    const broken = new Readable({
      read() {
        this.push(head);
        this.destroy(new Error('ECONNRESET'));
      },
    });
    expect(await readMultipart(broken, B, path.join(dir, 'gone'), 1 << 20)).toBe('malformed');
  });

  it('a client gone before the upload file could be opened (its folder not there) is malformed, not a crash', async () => {
    const broken = new Readable({
      read() {
        this.push(body(file).subarray(0, 400));
        this.destroy(new Error('ECONNRESET'));
      },
    });
    expect(await readMultipart(broken, B, path.join(dir, 'no-such-folder', 'upload'), 1 << 20)).toBe('malformed');
    // the destroyed stream's open fails a moment later: unhandled, vitest would report it as an uncaught error
    await new Promise((resolve) => setTimeout(resolve, 200));
  });

  it('reads the boundary from the content-type, quoted or not', () => {
    expect(multipartBoundary(`multipart/form-data; boundary=${B}`)).toBe(B);
    expect(multipartBoundary(`multipart/form-data; boundary="${B}"`)).toBe(B);
    expect(multipartBoundary('application/json')).toBeUndefined();
  });
});
