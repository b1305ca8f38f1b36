/**
 * Reads the sources named on a command line: files, directories (recursively, `*.yaml` and
 * `*.yml`, hidden entries skipped, symlink loops ignored) and `-` for standard input. Problems
 * (a missing path, an unreadable file) become findings, like any other bad input.
 */
import { open, readdir, realpath, stat } from 'node:fs/promises';
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

/** A file found in a directory, to be read. */
interface PlannedFile {
  readonly absolute: string;
  readonly shown: string;
}

/** Options of `readSources`. */
export interface ReadOptions {
  /** Base for relative display names; paths are shown as the user typed them. */
  readonly cwd?: string;
  /** Bytes read from each file at most; one byte more is read to detect oversize files. */
  readonly maxFileBytes?: number;
  readonly stdin?: NodeJS.ReadableStream;
}

/** Reads every source named by `paths`, in a stable order. */
export async function readSources(
  paths: readonly string[],
  options: ReadOptions = {},
): Promise<{ sources: Source[]; findings: Finding[] }> {
  const cwd = options.cwd ?? process.cwd();
  const maxBytes = options.maxFileBytes ?? DEFAULT_LIMITS.maxFileBytes;
  const sources: Source[] = [];
  const findings: Finding[] = [];
  const seen = new Set<string>();
  const problem = (file: string, message: string, code = 'unreadable') =>
    findings.push({ severity: 'error', code, message, location: { file, line: 1, column: 1 } });

  const readFileCapped = async (absolute: string, shown: string) => {
    const real = await realpath(absolute);
    if (seen.has(real)) return;
    seen.add(real);
    sources.push({ path: shown, ...(await readCapped(absolute, maxBytes)) });
  };

  /** Lists a directory's manifests, recursively, in a stable order (stats run in parallel). */
  const walk = async (directory: string, shown: string, files: PlannedFile[]) => {
    const real = await realpath(directory);
    if (seen.has(real)) return;
    seen.add(real);
    const entries = (await readdir(directory, { withFileTypes: true }))
      .filter(
        (e) => !e.name.startsWith('.') && e.name !== 'node_modules' && !FOREIGN_YAML.test(e.name),
      )
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    const infos = await Promise.all(
      entries.map((e) => stat(join(directory, e.name)).catch(() => undefined)),
    );
    for (const [i, entry] of entries.entries()) {
      const info = infos[i];
      const absolute = join(directory, entry.name);
      const entryShown = join(shown, entry.name);
      if (info?.isDirectory()) await walk(absolute, entryShown, files);
      else if (info?.isFile() && /\.ya?ml$/i.test(entry.name)) {
        files.push({ absolute, shown: entryShown });
      }
    }
  };

  /**
   * Reads the listed files, READ_CONCURRENCY at a time (a tree of ten thousand files otherwise
   * waits on the disk one file after another), keeping their order; a file reached twice
   * (symlinks) is read once.
   */
  const readAll = async (files: readonly PlannedFile[]) => {
    const read: { real: string; shown: string; content: Uint8Array; size: number }[] = new Array(
      files.length,
    );
    let next = 0;
    const lane = async () => {
      while (next < files.length) {
        const i = next++;
        const file = files[i] as PlannedFile;
        const real = await realpath(file.absolute);
        read[i] = { real, shown: file.shown, ...(await readCapped(file.absolute, maxBytes)) };
      }
    };
    await Promise.all(Array.from({ length: Math.min(READ_CONCURRENCY, files.length) }, lane));
    for (const file of read) {
      if (seen.has(file.real)) continue;
      seen.add(file.real);
      sources.push({ path: file.shown, content: file.content, size: file.size });
    }
  };

  for (const path of paths) {
    if (path === '-') {
      sources.push({
        path: STDIN_NAME,
        content: await readStream(options.stdin ?? process.stdin, maxBytes),
      });
      continue;
    }
    const absolute = resolve(cwd, path);
    const shown = isAbsolute(path) ? absolute : relative(cwd, absolute) || '.';
    try {
      const info = await stat(absolute);
      if (info.isDirectory()) {
        const files: PlannedFile[] = [];
        await walk(absolute, shown, files);
        await readAll(files);
      } else await readFileCapped(absolute, shown);
    } catch (cause) {
      const code = (cause as NodeJS.ErrnoException).code;
      problem(
        shown,
        code === 'ENOENT'
          ? 'no such file or directory'
          : code === 'EACCES'
            ? 'permission denied'
            : `cannot be read (${code ?? String(cause)})`,
      );
    }
  }
  return { sources, findings };
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
