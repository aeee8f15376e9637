// Streaming a backup (GET /admin/snapshot) to one client: chunk by chunk as the node produces them,
// waiting for 'drain' whenever the socket's buffer is full, so a slow client slows the
// serialisation down instead of filling memory; yielding to the event loop between chunks, so the
// node serves everything else meanwhile; and letting go of the state's copy the moment the client
// disconnects, stops reading for too long, or the stream fails.

import type { ServerResponse } from 'node:http';
import type { BackupOutcome, BackupStream } from '../api/service.js';

/** What became of the socket while the server waited to write more. */
type WaitResult = 'drained' | 'closed' | 'stalled';

/** Resolves once `res` can take more, closed, or did neither within `stallMs`. */
function writable(res: ServerResponse, stallMs: number): Promise<WaitResult> {
  return new Promise((resolve) => {
    const done = (r: WaitResult): void => {
      clearTimeout(timer);
      res.off('drain', onDrain);
      res.off('close', onClose);
      resolve(r);
    };
    const onDrain = (): void => done('drained');
    const onClose = (): void => done('closed');
    const timer = setTimeout(() => done('stalled'), stallMs);
    res.on('drain', onDrain);
    res.on('close', onClose);
  });
}

/** Resolves true once everything written has been handed to the socket, false if it closed first. */
function flushed(res: ServerResponse): Promise<boolean> {
  if (res.writableFinished) return Promise.resolve(true);
  return new Promise((resolve) => {
    const onFinish = (): void => {
      res.off('close', onClose);
      resolve(true);
    };
    const onClose = (): void => {
      res.off('finish', onFinish);
      resolve(res.writableFinished);
    };
    res.once('finish', onFinish);
    res.once('close', onClose);
  });
}

/**
 * Sends `stream` as the whole answer: 200, application/octet-stream, the index and key count in
 * headers, the file's SHA-256 in an HTTP trailer too. Once the answer has begun, a failure can only
 * cut it off — which any reader of the file detects, the trailer being missing. Calls
 * `stream.finished` once, whatever happens.
 */
export async function sendBackup(res: ServerResponse, stream: BackupStream, stallMs: number): Promise<void> {
  let bytes = 0;
  let outcome: BackupOutcome | null = null;
  const abandon = (reason: string): void => {
    outcome = { sent: false, bytes, reason };
  };
  try {
    res.writeHead(200, {
      'content-type': 'application/octet-stream',
      'content-disposition': `attachment; filename="raftkv-${stream.index}.snap"`,
      'cache-control': 'no-store',
      'x-raftkv-index': String(stream.index),
      'x-raftkv-term': String(stream.term),
      'x-raftkv-keys': String(stream.keys),
      // A --cluster-token may hold characters a header cannot carry: the file has it anyway.
      ...(/^[\x21-\x7e]+$/.test(stream.clusterId) && { 'x-raftkv-cluster-id': stream.clusterId }),
      trailer: 'X-Raftkv-Sha256',
    });
    for (;;) {
      if (res.destroyed) {
        abandon('the client disconnected');
        break;
      }
      const next = stream.chunks.next();
      if (next.done) {
        res.addTrailers({ 'x-raftkv-sha256': next.value });
        res.end();
        if (await flushed(res)) outcome = { sent: true, bytes };
        else abandon('the client disconnected before the end');
        break;
      }
      bytes += next.value.byteLength;
      if (res.write(next.value)) {
        await new Promise<void>((resolve) => setImmediate(resolve));
        continue;
      }
      const waited = await writable(res, stallMs);
      if (waited === 'closed') {
        abandon('the client disconnected');
        break;
      }
      if (waited === 'stalled') {
        abandon(`the client read nothing for ${stallMs} ms`);
        res.destroy();
        break;
      }
    }
  } catch (e) {
    abandon(`failed: ${e instanceof Error ? e.message : String(e)}`);
    res.destroy();
  } finally {
    // Lets go of the state's copy (a no-op once the file is whole).
    stream.chunks.return?.('');
    stream.finished(outcome ?? { sent: false, bytes, reason: 'the stream ended early' });
  }
}
