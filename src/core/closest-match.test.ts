import { describe, expect, it } from 'vitest';
import { closestMatch, editDistance } from './closest-match.js';

describe('closestMatch', () => {
  it('measures edit distance', () => {
    expect(editDistance('kitten', 'sitting')).toBe(3);
    expect(editDistance('', 'abc')).toBe(3);
    expect(editDistance('grnat', 'grant')).toBe(1);
  });

  it('suggests a likely typo and nothing for an unrelated word', () => {
    expect(closestMatch('rol', ['org', 'user', 'role'])).toBe('role');
    expect(closestMatch('Organisation', ['Plan', 'Organization'])).toBe('Organization');
    expect(closestMatch('banana', ['org', 'user', 'role'])).toBeUndefined();
  });
});
