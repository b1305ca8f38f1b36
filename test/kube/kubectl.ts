/** Runs the real `kubectl` against a test API server, as a user would. */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { KubeApiServer } from './api-server.js';

/** What one kubectl run printed and returned. */
export interface KubectlRun {
  readonly status: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** A kubectl bound to one server through its own kubeconfig file. */
export interface Kubectl {
  (args: readonly string[], input?: string): Promise<KubectlRun>;
  readonly kubeconfigPath: string;
  dispose(): void;
}

/** Creates a kubectl for the server (default namespace `namespace`). */
export function kubectlFor(server: KubeApiServer, namespace = 'default'): Kubectl {
  const dir = mkdtempSync(join(tmpdir(), 'roster-kubectl-'));
  const kubeconfigPath = join(dir, 'kubeconfig');
  writeFileSync(kubeconfigPath, server.kubeconfig(namespace));
  const run = (args: readonly string[], input?: string) =>
    new Promise<KubectlRun>((resolve) => {
      const child = execFile(
        'kubectl',
        ['--kubeconfig', kubeconfigPath, '--cache-dir', join(dir, 'cache'), ...args],
        { timeout: 60_000, env: { ...process.env, KUBECONFIG: kubeconfigPath } },
        (error, stdout, stderr) => {
          const code = error && typeof error.code === 'number' ? error.code : error ? 1 : 0;
          resolve({ status: code, stdout, stderr });
        },
      );
      if (input !== undefined) child.stdin?.end(input);
      else child.stdin?.end();
    });
  return Object.assign(run, {
    kubeconfigPath,
    dispose: () => rmSync(dir, { recursive: true, force: true }),
  });
}
