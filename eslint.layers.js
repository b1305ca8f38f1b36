// @ts-check
/**
 * The direction of imports in src/ (docs/architecture.md): the library (core; then store, mail,
 * files, telemetry, crd; then command) beside the drivers (cli, server, operator, provider). A
 * layer imports only the layers below it; no driver imports another; only src/main.ts, which
 * builds the `roster` command, knows every driver. Tested in test/layers.test.ts.
 */

const LIBRARY = ['core', 'store', 'mail', 'files', 'telemetry', 'crd', 'command'];
const DRIVERS = ['cli', 'server', 'operator', 'provider'];

/** Modules that do I/O, which the core may not use: it is pure, and runs in any driver. */
const IO_MODULES = [
  'pg',
  'nodemailer',
  'node:fs',
  'node:fs/promises',
  'node:net',
  'node:http',
  'node:child_process',
  'node:worker_threads',
  'node:os',
  '@kubernetes/client-node',
  '@grpc/grpc-js',
];

/** A relative import of one of these top-level directories of src/, from any depth. */
const into = (/** @type {string[]} */ dirs) => `^(\\.\\./)+(${dirs.join('|')})(/|$)`;

/**
 * @param {string} layer
 * @param {string[]} forbidden directories of src/ this layer may not import
 * @param {string} why
 * @param {string[]} [io] modules it may not import
 */
function layer(layer, forbidden, why, io = []) {
  return {
    files: [`src/${layer}/**/*.ts`],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: io.map((name) => ({ name, message: `src/${layer} does no I/O: ${why}` })),
          patterns: [
            {
              regex: into(forbidden),
              message: `src/${layer} may not import ${forbidden.join(', ')}: ${why}`,
            },
          ],
        },
      ],
    },
  };
}

const others = (/** @type {string} */ self) => DRIVERS.filter((d) => d !== self);

export const LAYER_RULES = [
  layer(
    'core',
    [...LIBRARY.filter((l) => l !== 'core'), ...DRIVERS],
    'the core is pure; pass it what it needs',
    IO_MODULES,
  ),
  layer(
    'store',
    ['mail', 'files', 'telemetry', 'crd', 'command', ...DRIVERS],
    'the store sits on the core',
  ),
  layer('mail', ['files', 'telemetry', 'crd', 'command', ...DRIVERS], 'mail sits on the store'),
  layer(
    'files',
    ['store', 'mail', 'telemetry', 'crd', 'command', ...DRIVERS],
    'files feed the core',
  ),
  layer(
    'telemetry',
    [...LIBRARY.filter((l) => l !== 'telemetry' && l !== 'core'), ...DRIVERS],
    'telemetry is shared by every driver',
  ),
  layer(
    'crd',
    ['store', 'mail', 'files', 'telemetry', 'command', ...DRIVERS],
    'CRDs are generated from the core',
  ),
  layer('command', DRIVERS, 'what commands share is library code'),
  ...DRIVERS.map((driver) =>
    layer(driver, others(driver), 'a driver never imports another; src/main.ts assembles them'),
  ),
];
