/**
 * Pulumi's property values over gRPC: protobuf Structs in which a secret is an object tagged with
 * a signature key and an unknown (during preview) is a sentinel string.
 */
import structPb from 'google-protobuf/google/protobuf/struct_pb.js';

/** The key that marks a special value (Pulumi's "sig"). */
export const SIGNATURE_KEY = '4dabf18193072939515e22adb298388d';
/** The signature of a secret. */
export const SECRET_SIGNATURE = '1b47061264138c4ac30d75fd1eb44270';
/** The value of an unknown during preview. */
export const UNKNOWN = '04da6b54-80e4-46f7-96ec-b56ff0331ba9';

/** Plain JSON-like properties. */
export type Properties = Record<string, unknown>;

/** A Struct to plain properties; `secrets` receives the names of top-level secret properties. */
export function fromStruct(struct: structPb.Struct | undefined, secrets?: Set<string>): Properties {
  const raw = (struct?.toJavaScript() ?? {}) as Properties;
  return Object.fromEntries(
    Object.entries(raw).map(([key, value]) => {
      const { value: plain, secret } = unwrap(value);
      if (secret) secrets?.add(key);
      return [key, plain];
    }),
  );
}

function unwrap(value: unknown): { value: unknown; secret: boolean } {
  if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
    const record = value as Record<string, unknown>;
    if (record[SIGNATURE_KEY] === SECRET_SIGNATURE) {
      return { value: unwrap(record.value).value, secret: true };
    }
    let secret = false;
    const out = Object.fromEntries(
      Object.entries(record).map(([k, v]) => {
        const inner = unwrap(v);
        secret ||= inner.secret;
        return [k, inner.value];
      }),
    );
    return { value: out, secret };
  }
  if (Array.isArray(value)) {
    const items = value.map(unwrap);
    return { value: items.map((i) => i.value), secret: items.some((i) => i.secret) };
  }
  return { value, secret: false };
}

/** Plain properties to a Struct, wrapping the named top-level properties as secrets. */
export function toStruct(
  properties: Properties,
  secrets: ReadonlySet<string> = new Set(),
): structPb.Struct {
  const wrapped = Object.fromEntries(
    Object.entries(properties)
      .filter(([, v]) => v !== undefined)
      .map(([k, v]) => [k, secrets.has(k) ? { [SIGNATURE_KEY]: SECRET_SIGNATURE, value: v } : v]),
  );
  return structPb.Struct.fromJavaScript(wrapped as Record<string, structPb.JavaScriptValue>);
}

/** Whether a value is, or contains, an unknown. */
export function containsUnknown(value: unknown): boolean {
  if (value === UNKNOWN) return true;
  if (Array.isArray(value)) return value.some(containsUnknown);
  if (typeof value === 'object' && value !== null) {
    return Object.values(value).some(containsUnknown);
  }
  return false;
}
