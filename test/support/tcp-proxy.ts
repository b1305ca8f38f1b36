/**
 * A TCP proxy on loopback that a test can cut and restore, to make a real PostgreSQL "go down"
 * for one client without stopping the server the other tests use: cut() closes every connection
 * and refuses new ones (ECONNREFUSED, as a stopped server does), restore() listens again.
 */
import { createServer, connect, type Server, type Socket } from 'node:net';

/** A proxy to one target. */
export interface TcpProxy {
  readonly port: number;
  cut(): Promise<void>;
  restore(): Promise<void>;
  close(): Promise<void>;
}

/** Starts a proxy from a free loopback port to `host:port`. */
export async function startTcpProxy(host: string, port: number): Promise<TcpProxy> {
  const sockets = new Set<Socket>();
  let server: Server | undefined;
  let listenPort = 0;
  const listen = async () => {
    server = createServer((client) => {
      const upstream = connect(port, host);
      sockets.add(client);
      sockets.add(upstream);
      const drop = () => {
        client.destroy();
        upstream.destroy();
        sockets.delete(client);
        sockets.delete(upstream);
      };
      client.on('error', drop).on('close', drop);
      upstream.on('error', drop).on('close', drop);
      client.pipe(upstream).pipe(client);
    });
    await new Promise<void>((resolve) => server?.listen(listenPort, '127.0.0.1', resolve));
    const address = server.address();
    listenPort = typeof address === 'object' && address !== null ? address.port : listenPort;
  };
  const stop = async () => {
    const closing = server;
    server = undefined;
    for (const socket of sockets) socket.destroy();
    sockets.clear();
    if (closing !== undefined) await new Promise<void>((resolve) => closing.close(() => resolve()));
  };
  await listen();
  return {
    get port() {
      return listenPort;
    },
    cut: stop,
    restore: listen,
    close: stop,
  };
}
