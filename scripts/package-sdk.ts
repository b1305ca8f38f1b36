/**
 * `npm run package`, second half: the TypeScript SDK as its own npm package,
 * `build/roster-dev-pulumi-roster-<version>.tgz`, named as the schema's
 * `language.nodejs.packageName` says. CommonJS and ESM builds (esbuild; `@pulumi/pulumi` stays a
 * peer), one bundled declaration file (dts-bundle-generator: the types derived from Roster's JSON
 * Schemas are inlined), and Pulumi's plugin metadata so that the engine installs the provider.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { build } from 'esbuild';
import { generateDtsBundle } from 'dts-bundle-generator';
import { packageRoot } from '../src/store/package-root.js';

/** The SDK's npm name; the Pulumi schema's `language.nodejs.packageName` is the same. */
export const SDK_PACKAGE = '@roster-dev/pulumi-roster';

/** Builds and packs the SDK; returns the tarball's path. */
export async function packageSdk(root = packageRoot()): Promise<string> {
  const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
    version: string;
    dependencies: Record<string, string>;
  };
  const out = join(root, 'build', 'sdk');
  rmSync(out, { recursive: true, force: true });
  mkdirSync(join(out, 'dist'), { recursive: true });
  const entry = join(root, 'provider', 'sdk', 'nodejs', 'index.ts');
  for (const format of ['esm', 'cjs'] as const) {
    await build({
      entryPoints: [entry],
      bundle: true,
      platform: 'node',
      target: 'node18',
      format,
      outfile: join(out, 'dist', format === 'esm' ? 'index.mjs' : 'index.cjs'),
      external: ['@pulumi/pulumi'],
      logLevel: 'warning',
    });
  }
  const [declarations] = generateDtsBundle(
    [
      {
        filePath: entry,
        libraries: { importedLibraries: ['@pulumi/pulumi', 'json-schema-to-ts'] },
        output: { noBanner: true },
      },
    ],
    { preferredConfigPath: join(root, 'tsconfig.json') },
  );
  // dts-bundle-generator keeps the names of a namespace import (`pulumi.Input`) but drops the
  // import itself; put it back.
  const types = /import \* as pulumi from/.test(declarations ?? '')
    ? (declarations ?? '')
    : `import * as pulumi from '@pulumi/pulumi';\n${declarations ?? ''}`;
  writeFileSync(join(out, 'dist', 'index.d.ts'), types);
  writeFileSync(join(out, 'dist', 'index.d.mts'), types);
  const pkg = {
    name: SDK_PACKAGE,
    version: manifest.version,
    description:
      'The Roster resource provider for Pulumi: organizations, memberships, grants and contacts as resources.',
    license: 'Apache-2.0',
    keywords: ['pulumi', 'roster', 'category/utility', 'kind/native'],
    main: 'dist/index.cjs',
    module: 'dist/index.mjs',
    types: 'dist/index.d.ts',
    exports: {
      '.': {
        import: { types: './dist/index.d.mts', default: './dist/index.mjs' },
        require: { types: './dist/index.d.ts', default: './dist/index.cjs' },
      },
    },
    files: ['dist'],
    // The engine reads this to install the provider plugin the program needs.
    pulumi: { resource: true, name: 'roster', version: manifest.version },
    peerDependencies: { '@pulumi/pulumi': '^3.0.0' },
    dependencies: { 'json-schema-to-ts': manifest.dependencies['json-schema-to-ts'] ?? '^3.1.1' },
  };
  writeFileSync(join(out, 'package.json'), `${JSON.stringify(pkg, null, 2)}\n`);
  writeFileSync(
    join(out, 'README.md'),
    `# ${SDK_PACKAGE}\n\nThe TypeScript SDK of the Roster Pulumi provider. See docs/pulumi.md in the Roster repository.\n`,
  );
  const packed = execFileSync(
    'npm',
    ['pack', '--silent', '--pack-destination', join(root, 'build')],
    {
      cwd: out,
      encoding: 'utf8',
    },
  ).trim();
  return join(root, 'build', packed.split('\n').pop() ?? '');
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.stdout.write(`${await packageSdk()}\n`);
}
