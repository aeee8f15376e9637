// One TLS connection to a mutual-TLS server, for tests of certificates: whether the server
// accepted the client (and whom it saw) or the connection failed (and what the client was told).

import type { AddressInfo } from 'node:net';
import tls from 'node:tls';

export type HandshakeOutcome =
  | { readonly accepted: true; readonly peer: string }
  | { readonly accepted: false; readonly client: string };

/**
 * Connects a client to a server that requires a client certificate (requestCert,
 * rejectUnauthorized) and answers with the common name of the client's certificate. The
 * connection's close settles it, so nothing waits on time: an accepted client has read the
 * answer; a refused one has not (a server destroys a connection whose certificate fails without
 * saying why, so the client's error, if any, is all there is to see).
 */
export async function mutualTlsHandshake(
  server: tls.TlsOptions,
  client: tls.ConnectionOptions,
): Promise<HandshakeOutcome> {
  const srv = tls.createServer({ ...server, requestCert: true, rejectUnauthorized: true }, (socket) => {
    socket.end(`hello ${String(socket.getPeerCertificate().subject?.CN)}`);
  });
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const { port } = srv.address() as AddressInfo;
  try {
    return await new Promise<HandshakeOutcome>((resolve) => {
      let data = '';
      let clientError = '';
      const socket = tls.connect({ host: '127.0.0.1', port, ...client });
      socket.setEncoding('utf8');
      socket.on('data', (d: string) => {
        data += d;
      });
      socket.on('error', (e: NodeJS.ErrnoException) => {
        clientError = `${e.code ?? ''} ${e.message}`;
      });
      socket.on('close', () => {
        resolve(
          data.startsWith('hello ')
            ? { accepted: true, peer: data.slice('hello '.length) }
            : { accepted: false, client: clientError },
        );
      });
    });
  } finally {
    await new Promise<void>((resolve) => srv.close(() => resolve()));
  }
}
