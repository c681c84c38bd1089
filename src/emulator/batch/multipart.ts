/**
 * A streaming multipart/form-data reader for `POST /files`: the file part goes straight to disk as it
 * arrives (an input file may be 500 MB: it is never held whole in memory), the small fields (purpose) are
 * kept. Only what an upload needs: parts with Content-Disposition name (and filename), no nesting.
 */
import { createWriteStream, type WriteStream } from 'node:fs';
import type { Readable } from 'node:stream';

export interface MultipartUpload {
  fields: Record<string, string>;
  /** the first part that carried a filename, written to `path` */
  file?: { field: string; filename: string; bytes: number };
}

export type MultipartFailure = 'too_large' | 'malformed';

/** A field longer than this is malformed (fields are names like "batch"). */
const MAX_FIELD_BYTES = 64 * 1024;
const CRLF = Buffer.from('\r\n');
const HEADER_END = Buffer.from('\r\n\r\n');

/** The boundary of a multipart/form-data content-type, or undefined. */
export function multipartBoundary(contentType: string | undefined): string | undefined {
  if (!contentType || !/^multipart\/form-data/i.test(contentType)) return undefined;
  const m = /boundary=(?:"([^"]+)"|([^;\s]+))/i.exec(contentType);
  return m ? (m[1] ?? m[2]) : undefined;
}

function disposition(headers: string): { name?: string; filename?: string } {
  const line = headers.split('\r\n').find((l) => /^content-disposition:/i.test(l)) ?? '';
  const name = /\bname="([^"]*)"/i.exec(line)?.[1];
  const filename = /\bfilename="([^"]*)"/i.exec(line)?.[1];
  return { ...(name !== undefined && { name }), ...(filename !== undefined && { filename }) };
}

async function write(out: WriteStream, chunk: Buffer): Promise<void> {
  if (chunk.length > 0 && !out.write(chunk)) await new Promise<void>((resolve) => out.once('drain', resolve));
}

/**
 * Reads the body; the file part is written to `filePath`. Fails with 'too_large' once more than `maxBytes`
 * arrive (the rest is not read), 'malformed' on a body that is not multipart as declared.
 */
export async function readMultipart(body: Readable, boundary: string, filePath: string, maxBytes: number): Promise<MultipartUpload | MultipartFailure> {
  const files: WriteStream[] = [];
  try {
    return await read(body, boundary, filePath, maxBytes, files);
  } catch {
    // The client went away mid-upload (or the disk failed): what was written is dropped.
    return 'malformed';
  } finally {
    for (const f of files) if (!f.closed) f.destroy();
  }
}

async function read(body: Readable, boundary: string, filePath: string, maxBytes: number, files: WriteStream[]): Promise<MultipartUpload | MultipartFailure> {
  const delimiter = Buffer.from(`\r\n--${boundary}`);
  const out: MultipartUpload = { fields: {} };
  // The body starts with "--boundary" (no CRLF before the first delimiter): pretend one was there.
  let buf: Buffer = Buffer.from(CRLF);
  let state: 'preamble' | 'headers' | 'body' | 'done' = 'preamble';
  let part: { name: string; file: WriteStream | undefined; field: Buffer[]; size: number } | undefined;
  let total = 0;
  let fileStream: WriteStream | undefined;

  const endPart = async (): Promise<void> => {
    if (!part) return;
    if (part.file) {
      await new Promise<void>((resolve, reject) => part!.file!.end((err?: Error | null) => (err ? reject(err) : resolve())));
      out.file = { ...out.file!, bytes: part.size };
    } else out.fields[part.name] = Buffer.concat(part.field).toString('utf8');
    part = undefined;
  };

  // Not destroyed on an early return: the caller drains the rest and still answers on this connection.
  for await (const chunk of body.iterator({ destroyOnReturn: false })) {
    total += (chunk as Buffer).length;
    if (total > maxBytes) return 'too_large';
    buf = buf.length === 0 ? (chunk as Buffer) : Buffer.concat([buf, chunk as Buffer]);
    for (;;) {
      if (state === 'preamble' || state === 'body') {
        const at = buf.indexOf(delimiter);
        if (at < 0) {
          // Keep a tail that could be the start of a delimiter split across chunks.
          const keep = Math.min(buf.length, delimiter.length - 1);
          if (state === 'body' && part) {
            const data = buf.subarray(0, buf.length - keep);
            part.size += data.length;
            if (part.file) await write(part.file, data);
            else if (part.size > MAX_FIELD_BYTES) return 'malformed';
            else part.field.push(Buffer.from(data));
          }
          buf = buf.subarray(buf.length - keep);
          break;
        }
        if (state === 'body' && part) {
          const data = buf.subarray(0, at);
          part.size += data.length;
          if (part.file) await write(part.file, data);
          else part.field.push(Buffer.from(data));
          await endPart();
        }
        // After the delimiter: "--" ends the body, CRLF starts a part's headers.
        if (buf.length < at + delimiter.length + 2) break;
        const next = buf.subarray(at + delimiter.length, at + delimiter.length + 2).toString('latin1');
        buf = buf.subarray(at + delimiter.length + 2);
        if (next === '--') {
          state = 'done';
          break;
        }
        if (next !== '\r\n') return 'malformed';
        state = 'headers';
      }
      if (state === 'headers') {
        const end = buf.indexOf(HEADER_END);
        if (end < 0) {
          if (buf.length > MAX_FIELD_BYTES) return 'malformed';
          break;
        }
        const { name, filename } = disposition(buf.subarray(0, end).toString('utf8'));
        buf = buf.subarray(end + HEADER_END.length);
        if (name === undefined) return 'malformed';
        const isFile = filename !== undefined && out.file === undefined;
        if (isFile) {
          fileStream = createWriteStream(filePath);
          // Its errors reach the writes' and end's callbacks; one after the upload was given up (a destroyed
          // stream's deferred open into a folder removed meanwhile) would otherwise crash the emulator.
          fileStream.on('error', () => undefined);
          files.push(fileStream);
          out.file = { field: name, filename, bytes: 0 };
        }
        part = { name, file: isFile ? fileStream : undefined, field: [], size: 0 };
        state = 'body';
        continue;
      }
      if (state === 'done') break;
    }
    if (state === 'done') break;
  }
  return state === 'done' ? out : 'malformed';
}
