/**
 * Turns the bytes of one source into YAML documents that remember where every node came from.
 * Pure: no I/O. Hostile input (binary, oversized, alias bombs, deep nesting, `__proto__` keys,
 * invisible characters) becomes findings, never an exception.
 */
import {
  isMap,
  isPair,
  isScalar,
  isSeq,
  Lexer,
  LineCounter,
  parseAllDocuments,
  visit,
  type Document,
  type Node as YamlNode,
} from 'yaml';
import type { Finding, SourceLocation } from './findings.js';
import type { InputLimits } from './limits.js';
import { CORE_SCHEMA, loadAll } from 'js-yaml';

/** One input: a file's path as the user named it, and its content. */
export interface Source {
  readonly path: string;
  readonly content: Uint8Array | string;
  /**
   * The whole file's size when `content` was cut at the size limit (a reader stops one byte past
   * it): the message then gives the real size. Absent for a stream, whose size is unknown.
   */
  readonly size?: number;
}

/** A step into a document: a map key or a sequence index. */
export type PathSegment = string | number;

/** One parsed YAML document of a source, with a way back to file positions. */
export interface ParsedDocument {
  readonly file: string;
  /** 0-based position of the document in its file. */
  readonly index: number;
  /** The plain JavaScript value of the document. */
  readonly value: unknown;
  /** Where the value (or, with `key`, the key) at `path` starts. */
  locate(path: readonly PathSegment[], key?: boolean): SourceLocation;
}

/** What parsing a source produced. */
export interface ParsedSource {
  readonly documents: ParsedDocument[];
  readonly findings: Finding[];
}

/**
 * Invisible or direction-changing characters that can make a reviewer read something other than
 * what is stored (CVE-2021-42574, "Trojan Source"); plus C0/C1 controls other than tab and newline.
 */
const HIDDEN_CHARACTER =
  // eslint-disable-next-line no-control-regex
  /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f\u00ad\u061c\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u206f\ufeff\ufff9-\ufffb]/u;

const CHARACTER_NAMES: Readonly<Record<string, string>> = {
  '\u200b': 'ZERO WIDTH SPACE',
  '\u200c': 'ZERO WIDTH NON-JOINER',
  '\u200d': 'ZERO WIDTH JOINER',
  '\u200e': 'LEFT-TO-RIGHT MARK',
  '\u200f': 'RIGHT-TO-LEFT MARK',
  '\u202a': 'LEFT-TO-RIGHT EMBEDDING',
  '\u202b': 'RIGHT-TO-LEFT EMBEDDING',
  '\u202c': 'POP DIRECTIONAL FORMATTING',
  '\u202d': 'LEFT-TO-RIGHT OVERRIDE',
  '\u202e': 'RIGHT-TO-LEFT OVERRIDE',
  '\u2066': 'LEFT-TO-RIGHT ISOLATE',
  '\u2067': 'RIGHT-TO-LEFT ISOLATE',
  '\u2068': 'FIRST STRONG ISOLATE',
  '\u2069': 'POP DIRECTIONAL ISOLATE',
  '\u00ad': 'SOFT HYPHEN',
  '\ufeff': 'ZERO WIDTH NO-BREAK SPACE',
  '\u0000': 'NULL',
};

/** `U+202E RIGHT-TO-LEFT OVERRIDE`, for messages. */
export function describeCharacter(ch: string): string {
  const code = (ch.codePointAt(0) ?? 0).toString(16).toUpperCase().padStart(4, '0');
  const name = CHARACTER_NAMES[ch];
  return name === undefined ? `U+${code}` : `U+${code} ${name}`;
}

/** Keys that would reach an object's prototype if some consumer copied them naively. */
const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

/**
 * A document that comes from no file (a Pulumi resource's inputs, a Kubernetes object): `file`
 * names it in findings, which have no line or column.
 */
export function inMemoryDocument(file: string, value: unknown): ParsedDocument {
  return { file, index: 0, value, locate: (path) => ({ file, line: 0, column: 0, path }) };
}

/** Parses one source into documents and findings; never throws for bad input. */
export function parseSource(source: Source, limits: InputLimits): ParsedSource {
  const file = source.path;
  const fail = (message: string, code: string, line = 1, column = 1): ParsedSource => ({
    documents: [],
    findings: [{ severity: 'error', code, message, location: { file, line, column } }],
  });

  const read =
    typeof source.content === 'string'
      ? Buffer.byteLength(source.content)
      : source.content.byteLength;
  if (read > limits.maxFileBytes) {
    const size =
      source.size !== undefined && source.size >= read
        ? `${source.size} bytes`
        : `more than ${limits.maxFileBytes} bytes`;
    return fail(
      `file is ${size}, over the limit of ${limits.maxFileBytes}: split it into several files (or raise --max-file-size)`,
      'file-too-large',
    );
  }

  const text = decodeText(source.content);
  if (typeof text !== 'string') {
    return fail(text.message, 'not-text', text.line, text.column);
  }

  return parseFast(file, text, limits) ?? parseExact(file, text, limits);
}

/**
 * Characters and words after which a file takes the exact path: aliases and anchors, tags,
 * directives, complex keys, and keys that could reach a prototype. Their absence lets the fast
 * parser read the file; anything it refuses goes to the exact path too, for the exact message.
 */
const NEEDS_EXACT_PARSE = /[*&!]|^%|(^|[\s,[{])\?(\s|$)|__proto__|constructor|prototype/m;

/**
 * The fast path: js-yaml (about five times faster than \`yaml\` here) reads plain files. Positions
 * are not computed: the first \`locate\` on a document of the file parses it the exact way, so
 * only files with findings pay for positions, and they get the same positions.
 */
function parseFast(file: string, text: string, limits: InputLimits): ParsedSource | undefined {
  const values = fastValues(text, limits);
  return values === undefined ? undefined : fastDocuments(file, () => text, values, limits);
}

/**
 * The values of a plain file read by js-yaml, or undefined when the file must take the exact
 * path. Pure and self-contained, so that worker threads can run it (`src/files/parse-threads.ts`).
 */
export function fastValues(text: string, limits: InputLimits): unknown[] | undefined {
  if (
    NEEDS_EXACT_PARSE.test(text) ||
    HIDDEN_CHARACTER.test(text) ||
    // Escapes can spell hidden characters; wide indentation is checked on the exact path.
    text.includes('\\') ||
    new RegExp(`^ {${limits.maxIndent + 1}}`, 'm').test(text)
  ) {
    return undefined;
  }
  let values: unknown[];
  try {
    values = loadAll(text, { schema: CORE_SCHEMA, maxDepth: limits.maxFlowDepth });
  } catch {
    return undefined;
  }
  if (values.length > limits.maxDocumentsPerFile) return undefined;
  return values;
}

/**
 * The documents of values the fast path read; `text` gives the file's text back when a position
 * is first asked for (the exact parse then runs once for the file).
 */
export function fastDocuments(
  file: string,
  text: () => string,
  values: readonly unknown[],
  limits: InputLimits,
): ParsedSource {
  let exact: ParsedSource | undefined;
  const exactDocument = (index: number) => {
    exact ??= parseExact(file, text(), limits);
    return exact.documents.find((d) => d.index === index);
  };
  const documents: ParsedDocument[] = [];
  values.forEach((value, index) => {
    if (value === null || value === undefined) return;
    documents.push({
      file,
      index,
      value,
      locate: (path, key = false) =>
        exactDocument(index)?.locate(path, key) ?? { file, line: 1, column: 1 },
    });
  });
  return { documents, findings: [] };
}

/** The exact path: \`yaml\` with positions for every node, after the shape checks. */
function parseExact(file: string, text: string, limits: InputLimits): ParsedSource {
  const findings: Finding[] = [];
  const fail = (message: string, code: string, line = 1, column = 1): ParsedSource => ({
    documents: [],
    findings: [{ severity: 'error', code, message, location: { file, line, column } }],
  });
  const lineCounter = new LineCounter();
  const shape = checkShape(text, limits, lineCounter);
  if (shape !== undefined) return fail(shape.message, shape.code, shape.line, shape.column);

  const positionOf = (offset: number): SourceLocation => {
    const { line, col } = lineCounter.linePos(offset);
    return { file, line, column: col };
  };

  const yamlDocuments = parseAllDocuments(text, {
    prettyErrors: false,
    uniqueKeys: true,
    strict: true,
    version: '1.2',
    schema: 'core',
  });
  const list = Array.isArray(yamlDocuments) ? yamlDocuments : [];
  const documents: ParsedDocument[] = [];

  list.forEach((doc, index) => {
    const before = findings.length;
    for (const error of doc.errors) {
      let offset = error.pos[0];
      // An unterminated quoted string is reported where the file ends; point at its opening quote.
      if (error.code === 'MISSING_CHAR' && /quote/.test(error.message)) {
        offset = Math.max(text.lastIndexOf('"', offset - 1), text.lastIndexOf("'", offset - 1), 0);
      }
      findings.push({
        severity: 'error',
        code: 'yaml-syntax',
        message: `YAML: ${firstLine(error.message)}`,
        location: positionOf(offset),
      });
    }
    for (const warning of doc.warnings) {
      const unresolvedTag = warning.code === 'TAG_RESOLVE_FAILED';
      findings.push({
        severity: unresolvedTag ? 'error' : 'warning',
        code: unresolvedTag ? 'yaml-tag' : 'yaml-warning',
        message: unresolvedTag
          ? `YAML: ${firstLine(warning.message)}; Roster manifests use plain values, without tags`
          : `YAML: ${firstLine(warning.message)}`,
        location: positionOf(warning.pos[0]),
      });
    }
    findings.push(...checkNodes(doc, positionOf));
    const empty = doc.contents === null || (isScalar(doc.contents) && doc.contents.value === null);
    if (findings.length > before || empty) return;

    const value: unknown = doc.toJS({ maxAliasCount: 0 });
    documents.push({
      file,
      index,
      value,
      locate: (path, key = false) => positionOf(nodeOffset(doc, path, key)),
    });
  });

  return { documents, findings };
}

export interface ShapeProblem {
  message: string;
  code: string;
  line: number;
  column: number;
}

export function decodeText(content: Uint8Array | string): string | ShapeProblem {
  let text: string;
  if (typeof content === 'string') {
    text = content;
  } else {
    try {
      text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false }).decode(content);
    } catch {
      const offset = firstInvalidUtf8(content);
      return {
        message: `not UTF-8 text (invalid byte 0x${(content[offset] ?? 0).toString(16).padStart(2, '0')} at offset ${offset}); is this a binary file?`,
        code: 'not-text',
        line: 1,
        column: 1,
      };
    }
  }
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  const nul = text.indexOf('\u0000');
  if (nul >= 0) {
    const before = text.slice(0, nul);
    const line = before.split('\n').length;
    return {
      message: 'contains a NUL byte; is this a binary file?',
      code: 'not-text',
      line,
      column: nul - before.lastIndexOf('\n'),
    };
  }
  return text;
}

function firstInvalidUtf8(bytes: Uint8Array): number {
  const decoder = new TextDecoder('utf-8', { fatal: true });
  let low = 0;
  let high = bytes.length;
  // Binary search for the shortest prefix that no longer decodes.
  while (low < high) {
    const mid = (low + high) >>> 1;
    try {
      decoder.decode(bytes.subarray(0, mid + 1), { stream: true });
      decoder.decode();
      low = mid + 1;
    } catch {
      high = mid;
    }
  }
  return Math.min(low, bytes.length - 1);
}

/**
 * Checks nesting and document count on the token stream, before the parser builds a tree:
 * the YAML parser recurses per nesting level, and a few thousand levels crash the process.
 * Also feeds the line counter that positions use.
 */
function checkShape(
  text: string,
  limits: InputLimits,
  lineCounter: LineCounter,
): ShapeProblem | undefined {
  let offset = 0;
  let line = 1;
  let lineStart = 0;
  let flowDepth = 0;
  let indicators = 0;
  let documents = 1;
  lineCounter.addNewLine(0);
  const at = (message: string, code: string): ShapeProblem => ({
    message,
    code,
    line,
    column: offset - lineStart + 1,
  });
  for (const token of new Lexer().lex(text)) {
    // Control tokens (document, scalar, flow-error markers) have no source text.
    if (token.length === 1 && token.charCodeAt(0) < 0x20 && token !== '\n' && token !== '\t') {
      continue;
    }
    switch (token) {
      case '[':
      case '{':
        if (++flowDepth > limits.maxFlowDepth) {
          return at(`nesting deeper than ${limits.maxFlowDepth} levels`, 'too-deep');
        }
        break;
      case ']':
      case '}':
        flowDepth = Math.max(0, flowDepth - 1);
        break;
      case '-':
      case '?':
      case ':':
        // Inside flow collections nesting is counted by brackets; `{a: 1, b: 2}` is flat.
        if (flowDepth === 0 && ++indicators > limits.maxIndicatorsPerLine) {
          return at(
            `more than ${limits.maxIndicatorsPerLine} nested levels on one line`,
            'too-deep',
          );
        }
        break;
      case '---':
        if (++documents > limits.maxDocumentsPerFile) {
          return at(
            `more than ${limits.maxDocumentsPerFile} documents in one file: split it`,
            'too-many-documents',
          );
        }
        break;
      default:
        if (offset === lineStart && token.trim() === '' && token.length > limits.maxIndent) {
          return at(`indentation wider than ${limits.maxIndent} columns`, 'too-deep');
        }
    }
    for (let i = token.indexOf('\n'); i >= 0; i = token.indexOf('\n', i + 1)) {
      line++;
      lineStart = offset + i + 1;
      lineCounter.addNewLine(lineStart);
      indicators = 0;
    }
    offset += token.length;
  }
  return undefined;
}

/** Aliases, prototype keys and hidden characters, each at its node. */
function checkNodes(doc: Document, positionOf: (offset: number) => SourceLocation): Finding[] {
  const findings: Finding[] = [];
  const error = (code: string, message: string, node: YamlNode | null | undefined) => {
    findings.push({
      severity: 'error',
      code,
      message,
      location: positionOf(node?.range?.[0] ?? 0),
    });
  };
  const aliases: YamlNode[] = [];
  visit(doc, {
    Alias(_, node) {
      aliases.push(node);
    },
    Pair(_, pair) {
      if (isScalar(pair.key) && FORBIDDEN_KEYS.has(String(pair.key.value))) {
        error('forbidden-key', `"${String(pair.key.value)}" is not allowed as a key`, pair.key);
      }
      if (pair.key !== null && !isScalar(pair.key)) {
        error('yaml-complex-key', 'keys must be plain strings', pair.key as YamlNode);
      }
    },
    Scalar(_, node) {
      if (typeof node.value !== 'string') return;
      const match = HIDDEN_CHARACTER.exec(node.value);
      if (match !== null) {
        error(
          'hidden-character',
          `contains ${describeCharacter(match[0])}, an invisible or control character that can make text read differently than it is stored; remove it`,
          node,
        );
      }
    },
  });
  // One finding per document: an alias bomb would otherwise print thousands of lines.
  const [first] = aliases;
  if (first !== undefined) {
    const more = aliases.length > 1 ? `, and ${aliases.length - 1} more in this document` : '';
    error(
      'yaml-alias',
      `YAML aliases (${first.toString()}${more}) are not allowed in Roster manifests: write the value out, so that a reviewer sees it`,
      first,
    );
  }
  return findings;
}

/** Offset of the node (or its key) at `path`, or of the closest existing ancestor. */
function nodeOffset(doc: Document, path: readonly PathSegment[], key: boolean): number {
  let node: unknown = doc.contents;
  let offset = (doc.contents as YamlNode | null)?.range?.[0] ?? 0;
  for (let i = 0; i < path.length; i++) {
    const segment = path[i];
    const last = i === path.length - 1;
    if (isMap(node)) {
      const pair = node.items.find((p) => isPair(p) && isScalar(p.key) && p.key.value === segment);
      if (pair === undefined) return offset;
      const keyNode = pair.key as YamlNode;
      if (last && key) return keyNode.range?.[0] ?? offset;
      node = pair.value;
      offset = (pair.value as YamlNode | null)?.range?.[0] ?? keyNode.range?.[0] ?? offset;
    } else if (isSeq(node) && typeof segment === 'number') {
      const item = node.items[segment];
      if (item === undefined) return offset;
      node = item;
      offset = (item as YamlNode).range?.[0] ?? offset;
    } else {
      return offset;
    }
  }
  return offset;
}

function firstLine(message: string): string {
  const line = message.split('\n')[0] ?? message;
  return line.replace(/ at line \d+, column \d+:?$/, '');
}
