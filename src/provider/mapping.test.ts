import { describe, expect, it } from 'vitest';
import { preferProgramSpelling } from './mapping.js';

describe('preferProgramSpelling', () => {
  it('keeps the program spelling of values that mean what the database holds', () => {
    const database = {
      user: 'anne@xn--exmple-cua.com',
      expires: '2027-07-01T00:00:00.000Z',
      categories: ['billing', 'support'],
      role: 'developer',
    };
    const program = {
      user: 'Anne@Exämple.com',
      expires: '2027-06-30',
      categories: ['support', 'billing'],
      role: 'administrator',
    };
    expect(preferProgramSpelling(database, program)).toEqual({
      user: 'Anne@Exämple.com',
      expires: '2027-06-30',
      categories: ['support', 'billing'],
      role: 'developer',
    });
  });
});
