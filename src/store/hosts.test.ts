import { describe, expect, it } from 'vitest';
import { parseMultiHostUrl } from './hosts.js';

describe('parseMultiHostUrl', () => {
  it('reads a libpq host list with ports, credentials, path and target_session_attrs', () => {
    const url = parseMultiHostUrl(
      'postgresql://roster:s%40cret@db-a:6432,db-b,[::1]:5433/access?sslmode=disable&target_session_attrs=read-write',
    );
    expect(url?.hosts).toEqual([
      { host: 'db-a', port: 6432 },
      { host: 'db-b', port: 5432 },
      { host: '[::1]', port: 5433 },
    ]);
    expect(url?.readWrite).toBe(true);
    expect(url?.urlFor({ host: 'db-b', port: 5432 })).toBe(
      'postgresql://roster:s%40cret@db-b:5432/access?sslmode=disable',
    );
  });

  it('leaves a single host to node-postgres, and any server will do without read-write', () => {
    expect(parseMultiHostUrl('postgresql://u@db:5432/x')).toBeUndefined();
    expect(parseMultiHostUrl('postgres://a:1,b:2/x')?.readWrite).toBe(false);
    expect(parseMultiHostUrl('postgres://a:1,b:2/x?target_session_attrs=primary')?.readWrite).toBe(
      true,
    );
  });
});
