import { describe, expect, it } from 'vitest';
import { DEFAULT_LIMITS } from './limits.js';
import { parseSource } from './parse.js';

const parse = (content: string | Uint8Array, limits = DEFAULT_LIMITS) =>
  parseSource({ path: 'in.yaml', content }, limits);
const codes = (content: string | Uint8Array, limits = DEFAULT_LIMITS) =>
  parse(content, limits).findings.map((f) => f.code);

describe('parseSource', () => {
  it('splits multi-document files and skips empty documents', () => {
    const { documents, findings } = parse('a: 1\n---\n# only a comment\n---\nb: 2\n---\n');
    expect(findings).toEqual([]);
    expect(documents.map((d) => d.value)).toEqual([{ a: 1 }, { b: 2 }]);
    expect(documents.map((d) => d.index)).toEqual([0, 2]);
  });

  it('locates values and keys by path, on the right line and column', () => {
    const [doc] = parse('---\nspec:\n  members:\n    - user: a@b.io\n      role: dev\n').documents;
    expect(doc?.locate(['spec', 'members', 0, 'role'])).toEqual({
      file: 'in.yaml',
      line: 5,
      column: 13,
    });
    expect(doc?.locate(['spec', 'members', 0, 'role'], true)).toMatchObject({ line: 5, column: 7 });
    // A path that does not exist resolves to its closest ancestor.
    expect(doc?.locate(['spec', 'members', 0, 'seat'])).toMatchObject({ line: 4, column: 7 });
  });

  it('counts lines of CRLF files and files with a byte order mark correctly', () => {
    const bom = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('a: 1\r\nb: [\r\n')]);
    const [finding] = parse(bom).findings;
    expect(finding?.code).toBe('yaml-syntax');
    expect(finding?.location?.line).toBeGreaterThanOrEqual(2);
  });

  it('reports a syntax error at its position', () => {
    const { findings } = parse('a: 1\nb: "unterminated\n');
    expect(findings[0]).toMatchObject({ code: 'yaml-syntax', location: { line: 2, column: 4 } });
  });

  it('refuses duplicate keys', () => {
    expect(parse('a: 1\nb: 2\na: 3\n').findings[0]).toMatchObject({
      code: 'yaml-syntax',
      location: { line: 3, column: 1 },
    });
  });

  it('refuses aliases, so that an alias bomb never expands', () => {
    const bomb = [
      'a: &a ["x","x"]',
      ...Array.from({ length: 20 }, (_, i) => {
        const p = String.fromCharCode(97 + i);
        const n = String.fromCharCode(98 + i);
        return `${n}: &${n} [*${p},*${p},*${p},*${p}]`;
      }),
    ].join('\n');
    const { documents, findings } = parse(bomb);
    expect(documents).toEqual([]);
    expect(findings.length).toBeGreaterThan(0);
    expect(findings.every((f) => f.code === 'yaml-alias')).toBe(true);
    expect(findings[0]?.location).toMatchObject({ line: 2 });
  });

  it('refuses __proto__ and constructor keys and never pollutes prototypes', () => {
    const { findings } = parse('metadata:\n  labels:\n    __proto__: { polluted: "yes" }\n');
    expect(findings).toMatchObject([{ code: 'forbidden-key', location: { line: 3, column: 5 } }]);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(codes('constructor: x\n')).toEqual(['forbidden-key']);
  });

  it('refuses invisible and direction-changing characters, naming them', () => {
    const { findings } = parse('name: "admin\\u202E"\nother: "zero\\u200Bwidth"\n');
    expect(findings.map((f) => f.message.match(/U\+[0-9A-F]{4}[A-Z -]*/)?.[0]?.trim())).toEqual([
      'U+202E RIGHT-TO-LEFT OVERRIDE',
      'U+200B ZERO WIDTH SPACE',
    ]);
    expect(findings[1]?.location).toMatchObject({ line: 2, column: 8 });
  });

  it('keeps ordinary non-ASCII text (accents, scripts, emoji)', () => {
    const { documents, findings } = parse('displayName: "Crème brûlée ☕ 東京"\n');
    expect(findings).toEqual([]);
    expect(documents[0]?.value).toEqual({ displayName: 'Crème brûlée ☕ 東京' });
  });

  it('refuses binary input with a message, not a crash', () => {
    const garbage = Uint8Array.from({ length: 512 }, (_, i) => (i * 97 + 13) % 256);
    expect(parse(garbage).findings[0]).toMatchObject({ code: 'not-text' });
    expect(parse('a: 1\nb: \u0000\n').findings[0]).toMatchObject({
      code: 'not-text',
      location: { line: 2, column: 4 },
    });
  });

  it('refuses a file over the size limit before parsing it', () => {
    const limits = { ...DEFAULT_LIMITS, maxFileBytes: 100 };
    expect(codes('a: "' + 'x'.repeat(200) + '"\n', limits)).toEqual(['file-too-large']);
  });

  it('refuses nesting that would exhaust the parser', () => {
    expect(codes('['.repeat(100_000))).toEqual(['too-deep']);
    expect(codes('- '.repeat(10_000) + 'x\n')).toEqual(['too-deep']);
    expect(codes(' '.repeat(5000) + 'a: 1\n')).toEqual(['too-deep']);
    // Flat flow mappings with many keys are not nesting.
    const flat = `{ ${Array.from({ length: 60 }, (_, i) => `k${i}: ${i}`).join(', ')} }\n`;
    expect(codes(flat)).toEqual([]);
  });

  it('refuses too many documents in one file', () => {
    const limits = { ...DEFAULT_LIMITS, maxDocumentsPerFile: 3 };
    expect(codes('a: 1\n---\nb: 1\n---\nc: 1\n', limits)).toEqual([]);
    expect(codes('a: 1\n---\nb: 1\n---\nc: 1\n---\nd: 1\n', limits)).toEqual([
      'too-many-documents',
    ]);
  });

  it('refuses tags, which could smuggle other types', () => {
    expect(codes('a: !!binary aGVsbG8=\nb: !custom x\n')).toContain('yaml-tag');
  });
});
