/**
 * Reads the sources named on a command line: files, directories (recursively, `*.yaml` and
 * `*.yml`, hidden entries skipped, symlink loops ignored) and `-` for standard input. Problems
 * (a missing path, an unreadable file) become findings, like any other bad input.
 */
import { createHash } from 'node:crypto';
import { open, readdir, readFile, realpath, stat } from 'node:fs/promises';
import { isAbsolute, join, relative, resolve } from 'node:path';
import type { Finding } from '../core/findings.js';
import { DEFAULT_LIMITS } from '../core/limits.js';
import type { Source } from '../core/parse.js';

/**
 * YAML files of other tools that live beside manifests and are skipped when a directory is
 * walked (a file named explicitly is still read): Pulumi projects and stacks, kustomize, Helm.
 */
const FOREIGN_YAML = /^(Pulumi(\.[^.]+)?|PulumiPlugin|kustomization|Chart)\.ya?ml$/i;

/** The name standard input is reported under. */
export const STDIN_NAME = '<stdin>';

/** Files read at once when reading a directory. */
const READ_CONCURRENCY = 32;

/** A listed file, with its real path when the walk knows it without asking. */
type PlannedFile = ListedFile & { readonly real?: string };

/** Options of `readSources`. */
export interface ReadOptions {
  /** Base for relative display names; paths are shown as the user typed them. */
  readonly cwd?: string;
  /** Bytes read from each file at most; one byte more is read to detect oversize files. */
  readonly maxFileBytes?: number;
  readonly stdin?: NodeJS.ReadableStream;
}

/** A file named on the command line, or found in a directory named there. */
export interface ListedFile {
  /** Where to read it. */
  readonly absolute: string;
  /** The name it is shown and recorded under: relative to the working directory, as typed. */
  readonly shown: string;
}

/** What the paths of a command line name: files in a stable order, or standard input. */
export interface ListedSources {
  readonly files: readonly ListedFile[];
  /**
   * Where standard input (`-`) comes among the files, when it was named: it is read by
   * `readSources` alone (an incremental plan cannot fingerprint a stream it has not read).
   */
  readonly stdinAt?: number;
  /** The directories and files as typed, relative to the working directory (`tenants`, `a.yaml`). */
  readonly roots: readonly string[];
  readonly findings: Finding[];
}

/** Lists the files `paths` name, without reading them; a file reached twice is listed once. */
export async function listSources(
  paths: readonly string[],
  options: Pick<ReadOptions, 'cwd'> = {},
): Promise<ListedSources> {
  const cwd = options.cwd ?? process.cwd();
  const files: ListedFile[] = [];
  const findings: Finding[] = [];
  const roots: string[] = [];
  const seen = new Set<string>();
  let stdinAt: number | undefined;

  /** Lists a directory's manifests, recursively, in a stable order (stats run in parallel). */
  const walk = async (directory: string, shown: string, found: PlannedFile[]) => {
    const real = await realpath(directory);
    if (seen.has(real)) return;
    seen.add(real);
    const entries = (await readdir(directory, { withFileTypes: true }))
      .filter(
        (e) => !e.name.startsWith('.') && e.name !== 'node_modules' && !FOREIGN_YAML.test(e.name),
      )
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    // A directory entry says what it is, except a symbolic link (followed: its target is looked
    // up) and, on some file systems, anything: only those cost a system call.
    const followed = await Promise.all(
      entries.map((e) =>
        e.isSymbolicLink() || (!e.isFile() && !e.isDirectory())
          ? stat(join(directory, e.name)).catch(() => undefined)
          : undefined,
      ),
    );
    for (const [i, entry] of entries.entries()) {
      const target = followed[i];
      const info = target ?? entry;
      const absolute = join(directory, entry.name);
      const entryShown = join(shown, entry.name);
      if (info.isDirectory()) await walk(absolute, entryShown, found);
      else if (info.isFile() && /\.ya?ml$/i.test(entry.name)) {
        // A plain file's real path is its real directory's and its name.
        found.push({
          absolute,
          shown: entryShown,
          ...(target === undefined && { real: join(real, entry.name) }),
        });
      }
    }
  };

  /** Adds files whose real path was not listed yet (symlinks reach a file twice). */
  const addAll = async (found: readonly PlannedFile[]) => {
    const reals = await Promise.all(found.map((f) => f.real ?? realpath(f.absolute)));
    found.forEach((file, i) => {
      const real = reals[i] as string;
      if (seen.has(real)) return;
      seen.add(real);
      files.push(file);
    });
  };

  for (const path of paths) {
    if (path === '-') {
      stdinAt ??= files.length;
      continue;
    }
    const absolute = resolve(cwd, path);
    const shown = isAbsolute(path) ? absolute : relative(cwd, absolute) || '.';
    roots.push(shown);
    try {
      const info = await stat(absolute);
      const found: PlannedFile[] = [];
      if (info.isDirectory()) await walk(absolute, shown, found);
      else found.push({ absolute, shown });
      await addAll(found);
    } catch (cause) {
      const code = (cause as NodeJS.ErrnoException).code;
      findings.push({
        severity: 'error',
        code: 'unreadable',
        message:
          code === 'ENOENT'
            ? 'no such file or directory'
            : code === 'EACCES'
              ? 'permission denied'
              : `cannot be read (${code ?? String(cause)})`,
        location: { file: shown, line: 1, column: 1 },
      });
    }
  }
  return { files, roots, findings, ...(stdinAt !== undefined && { stdinAt }) };
}

/**
 * Runs `task` on each file, READ_CONCURRENCY at a time (a tree of ten thousand files otherwise
 * waits on the disk one file after another); results keep the files' order.
 */
async function eachFile<T>(
  files: readonly ListedFile[],
  task: (file: ListedFile) => Promise<T>,
): Promise<T[]> {
  const results: T[] = new Array(files.length);
  let next = 0;
  const lane = async () => {
    while (next < files.length) {
      const i = next++;
      results[i] = await task(files[i] as ListedFile);
    }
  };
  await Promise.all(Array.from({ length: Math.min(READ_CONCURRENCY, files.length) }, lane));
  return results;
}

/** Reads listed files, in their order. */
export async function readListedFiles(
  files: readonly ListedFile[],
  options: Pick<ReadOptions, 'maxFileBytes'> = {},
): Promise<{ sources: Source[]; findings: Finding[] }> {
  const maxBytes = options.maxFileBytes ?? DEFAULT_LIMITS.maxFileBytes;
  const findings: Finding[] = [];
  const read = await eachFile(files, async (file) => {
    try {
      return { path: file.shown, ...(await readCapped(file.absolute, maxBytes)) };
    } catch (cause) {
      const code = (cause as NodeJS.ErrnoException).code;
      findings.push({
        severity: 'error',
        code: 'unreadable',
        message: `cannot be read (${code ?? String(cause)})`,
        location: { file: file.shown, line: 1, column: 1 },
      });
      return undefined;
    }
  });
  const sources: Source[] = [];
  for (const source of read) if (source !== undefined) sources.push(source);
  return { sources, findings };
}

/**
 * The SHA-256 of each listed file's content (hex), reading each whole and keeping none of it: what
 * an incremental plan compares with the fingerprints recorded at the last apply. A file that cannot
 * be read gets no fingerprint (it is read again, and reported, as a changed file).
 */
export async function hashListedFiles(
  files: readonly ListedFile[],
): Promise<(string | undefined)[]> {
  return eachFile(files, async (file) => {
    try {
      return createHash('sha256')
        .update(await readFile(file.absolute))
        .digest('hex');
    } catch {
      return undefined;
    }
  });
}

/** The SHA-256 of a source's content (hex), as `hashListedFiles` computes it from the file. */
export function sourceSha256(source: Source): string {
  return createHash('sha256').update(source.content).digest('hex');
}

/** Reads every source named by `paths`, in a stable order. */
export async function readSources(
  paths: readonly string[],
  options: ReadOptions = {},
): Promise<{ sources: Source[]; findings: Finding[] }> {
  return readListedSources(await listSources(paths, options), options);
}

/** Reads what `listSources` listed: its files, and standard input where it was named. */
export async function readListedSources(
  listed: ListedSources,
  options: Omit<ReadOptions, 'cwd'> = {},
): Promise<{ sources: Source[]; findings: Finding[] }> {
  const maxBytes = options.maxFileBytes ?? DEFAULT_LIMITS.maxFileBytes;
  const read = await readListedFiles(listed.files, { maxFileBytes: maxBytes });
  const sources = read.sources;
  if (listed.stdinAt !== undefined) {
    sources.splice(listed.stdinAt, 0, {
      path: STDIN_NAME,
      content: await readStream(options.stdin ?? process.stdin, maxBytes),
    });
  }
  return { sources, findings: [...listed.findings, ...read.findings] };
}

/**
 * Reads at most `max + 1` bytes, so that an oversize file is detected without reading it all, and
 * the file's size, for the message.
 */
async function readCapped(
  path: string,
  max: number,
): Promise<{ content: Uint8Array; size: number }> {
  const handle = await open(path, 'r');
  try {
    const size = (await handle.stat()).size;
    const buffer = Buffer.alloc(Math.min(max + 1, size + 1));
    let length = 0;
    while (length < buffer.length) {
      const { bytesRead } = await handle.read(buffer, length, buffer.length - length, length);
      if (bytesRead === 0) break;
      length += bytesRead;
    }
    return { content: buffer.subarray(0, length), size: Math.max(size, length) };
  } finally {
    await handle.close();
  }
}

async function readStream(stream: NodeJS.ReadableStream, max: number): Promise<Uint8Array> {
  const chunks: Buffer[] = [];
  let length = 0;
  for await (const chunk of stream) {
    const buffer = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer);
    chunks.push(buffer);
    length += buffer.length;
    if (length > max) break;
  }
  return Buffer.concat(chunks);
}
