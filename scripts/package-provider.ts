/**
 * `npm run package`: the Pulumi provider as a plugin archive users install with
 * `pulumi plugin install resource roster <version> --file <archive>`:
 * `build/pulumi-resource-roster-v<version>-<os>-<arch>.tar.gz`. It holds one bundled script (esbuild;
 * every dependency inside, so it starts in an empty directory with only Node on PATH), the
 * executable the engine runs (`pulumi-resource-roster`), the migrations it applies, its schema
 * and a package.json that marks the directory as Roster's.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, cpSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { arch, platform } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { build } from 'esbuild';
import { packageRoot } from '../src/store/package-root.js';

/** Pulumi's names for the platform in plugin archive names. */
const PULUMI_ARCH: Record<string, string> = { x64: 'amd64', arm64: 'arm64' };

/** Builds the archive; returns its path. */
export async function packageProvider(root = packageRoot()): Promise<string> {
  const { version } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
    version: string;
  };
  const out = join(root, 'build', 'pulumi-resource-roster');
  rmSync(out, { recursive: true, force: true });
  mkdirSync(out, { recursive: true });
  await build({
    entryPoints: [join(root, 'src', 'provider', 'main.ts')],
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'esm',
    outfile: join(out, 'provider.mjs'),
    // CommonJS dependencies (grpc-js, google-protobuf, pg) call require() on Node's modules.
    banner: {
      js: "import { createRequire as __roster_createRequire } from 'node:module'; const require = __roster_createRequire(import.meta.url);",
    },
    external: ['pg-native'],
    legalComments: 'external',
    logLevel: 'warning',
  });
  writeFileSync(
    join(out, 'pulumi-resource-roster'),
    '#!/bin/sh\n# The Roster resource provider for Pulumi: the engine runs it and talks gRPC to it.\nexec node "$(dirname "$0")/provider.mjs" "$@"\n',
  );
  chmodSync(join(out, 'pulumi-resource-roster'), 0o755);
  writeFileSync(
    join(out, 'package.json'),
    `${JSON.stringify({ name: 'pulumi-resource-roster', version, type: 'module', private: true }, null, 2)}\n`,
  );
  cpSync(join(root, 'migrations'), join(out, 'migrations'), { recursive: true });
  cpSync(join(root, 'provider', 'schema.json'), join(out, 'schema.json'));
  const os = platform() === 'win32' ? 'windows' : platform();
  const archive = join(
    root,
    'build',
    `pulumi-resource-roster-v${version}-${os}-${PULUMI_ARCH[arch()] ?? arch()}.tar.gz`,
  );
  execFileSync('tar', ['-czf', archive, '-C', out, '.']);
  return archive;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const archive = await packageProvider();
  process.stdout.write(`${archive}\n`);
}
