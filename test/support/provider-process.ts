/**
 * A provider process driven over gRPC as the Pulumi engine drives it: started with the engine's
 * address as its argument, its port read from the first line of stdout.
 */
import { spawn, type SpawnOptions } from 'node:child_process';
import * as grpc from '@grpc/grpc-js';
import providerGrpc from '@pulumi/pulumi/proto/provider_grpc_pb.js';

/** A running provider and a way to call it. */
export interface ProviderProcess {
  rpc<Req, Res>(method: string, request: Req): Promise<Res>;
  stop(): Promise<void>;
}

/** Starts `command args... 127.0.0.1:1` and connects to the port it prints. */
export async function startProvider(
  command: string,
  args: readonly string[],
  options: SpawnOptions,
): Promise<ProviderProcess> {
  const child = spawn(command, [...args, '127.0.0.1:1'], {
    ...options,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout?.once('data', (chunk: Buffer) => resolve(Number(chunk.toString().trim())));
    child.once('exit', (code) => reject(new Error(`provider exited with ${code}`)));
  });
  const client = new providerGrpc.ResourceProviderClient(
    `127.0.0.1:${port}`,
    grpc.credentials.createInsecure(),
  );
  return {
    rpc<Req, Res>(method: string, request: Req): Promise<Res> {
      return new Promise((resolve, reject) => {
        (
          client as unknown as Record<
            string,
            (r: Req, cb: (e: grpc.ServiceError | null, r: Res) => void) => void
          >
        )[method]!(request, (error, response) => (error ? reject(error) : resolve(response)));
      });
    },
    async stop() {
      client.close();
      if (child.exitCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    },
  };
}
