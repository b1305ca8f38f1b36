/**
 * Entry point of `pulumi-resource-roster`: the engine starts it with its own address as the
 * argument and reads the port of the provider's gRPC server from the first line of stdout.
 */
import { RosterProvider, serveProvider } from './provider.js';

const provider = new RosterProvider();
const { server, port } = await serveProvider(provider);
process.stdout.write(`${port}\n`);

const stop = () => {
  server.tryShutdown(() => {
    void provider.close().finally(() => process.exit(0));
  });
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
