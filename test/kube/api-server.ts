/**
 * A protocol-level Kubernetes API server for tests. No real kube-apiserver can run on the
 * development and CI machines, so this one speaks the parts of the API that the operator and
 * `kubectl` use, with the same semantics:
 *
 * - discovery (`/version`, `/api`, `/api/v1`, `/apis`, `/apis/<group>/<version>`);
 * - CustomResourceDefinitions: applying one serves its kind, with its structural schema enforced
 *   (types, required, enum, pattern, lengths, bounds, defaults; unknown fields pruned, or refused
 *   under `fieldValidation=Strict`, as kubectl asks); CEL rules are not evaluated;
 * - list and watch with `resourceVersion` (one counter for every write, as etcd's revision), a
 *   bounded history so that a watch from a compacted version gets `410 Gone`, label and field
 *   (`metadata.name`, `metadata.namespace`) selectors, `timeoutSeconds`;
 * - create (409 AlreadyExists), update and patch (merge, strategic-merge as merge, JSON patch) with
 *   `409 Conflict` on a stale `resourceVersion`, the status subresource (spec and status written
 *   separately), `metadata.generation` bumped only when something other than metadata or status
 *   changes, finalizers and `deletionTimestamp`, namespaces that must exist;
 * - `Table` responses built from the CRD's printer columns, for `kubectl get`.
 *
 * There is no authentication or authorization: every request is recorded instead (`requests`), so
 * a test can compare what the operator did with the RBAC rules it ships.
 */
import { randomUUID } from 'node:crypto';
import { isCelError, parse as parseCel, run as runCel, type CelInput } from '@bufbuild/cel';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parse as parseYaml } from 'yaml';

type Json = Record<string, unknown>;
type KubeObject = Json & { metadata: Json };

/** A kind the server serves. */
interface ResourceType {
  group: string; // '' for the core group
  version: string;
  kind: string;
  plural: string;
  singular: string;
  namespaced: boolean;
  shortNames: string[];
  categories: string[];
  /** Status written only through `/status`. */
  statusSubresource: boolean;
  schema?: Json;
  printerColumns: { name: string; type: string; jsonPath: string; priority?: number }[];
}

/** One request as the RBAC rules see it. */
export interface RecordedRequest {
  readonly verb: string;
  readonly group: string;
  readonly resource: string;
  readonly subresource?: string;
  readonly namespace?: string;
  readonly userAgent: string;
}

interface WatchEvent {
  rv: number;
  type: 'ADDED' | 'MODIFIED' | 'DELETED';
  typeKey: string;
  object: KubeObject;
}

interface Watcher {
  typeKey: string;
  namespace?: string;
  filter: (o: KubeObject) => boolean;
  res: ServerResponse;
}

class ApiError extends Error {
  constructor(
    readonly code: number,
    readonly reason: string,
    message: string,
    readonly details?: Json,
  ) {
    super(message);
  }
}

const BUILT_IN: ResourceType[] = [
  {
    group: '',
    version: 'v1',
    kind: 'Namespace',
    plural: 'namespaces',
    singular: 'namespace',
    namespaced: false,
    shortNames: ['ns'],
    categories: [],
    statusSubresource: true,
    printerColumns: [],
  },
  {
    group: '',
    version: 'v1',
    kind: 'Event',
    plural: 'events',
    singular: 'event',
    namespaced: true,
    shortNames: ['ev'],
    categories: [],
    statusSubresource: false,
    printerColumns: [
      { name: 'Type', type: 'string', jsonPath: '.type' },
      { name: 'Reason', type: 'string', jsonPath: '.reason' },
      { name: 'Object', type: 'string', jsonPath: '.involvedObject.name' },
      { name: 'Message', type: 'string', jsonPath: '.message' },
    ],
  },
  {
    group: 'coordination.k8s.io',
    version: 'v1',
    kind: 'Lease',
    plural: 'leases',
    singular: 'lease',
    namespaced: true,
    shortNames: [],
    categories: [],
    statusSubresource: false,
    printerColumns: [{ name: 'Holder', type: 'string', jsonPath: '.spec.holderIdentity' }],
  },
  {
    group: 'apiextensions.k8s.io',
    version: 'v1',
    kind: 'CustomResourceDefinition',
    plural: 'customresourcedefinitions',
    singular: 'customresourcedefinition',
    namespaced: false,
    shortNames: ['crd', 'crds'],
    categories: ['api-extensions'],
    statusSubresource: true,
    printerColumns: [],
  },
];

const typeKeyOf = (group: string, version: string, plural: string) =>
  `${group}/${version}/${plural}`;
const apiVersionOf = (t: ResourceType) => (t.group === '' ? t.version : `${t.group}/${t.version}`);
const clone = <T>(value: T): T => structuredClone(value);
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** Options of the test server. */
export interface KubeApiServerOptions {
  /** How many write events are kept for watches; older versions get 410 Gone. */
  readonly historyLimit?: number;
}

/** The server. Start it with `start()`, point kubectl and the operator at `url`. */
export class KubeApiServer {
  readonly requests: RecordedRequest[] = [];
  private readonly types = new Map<string, ResourceType>();
  private readonly store = new Map<string, Map<string, KubeObject>>();
  private history: WatchEvent[] = [];
  private readonly watchers = new Set<Watcher>();
  private revision = 1;
  private server: Server | undefined;
  private readonly historyLimit: number;
  url = '';

  constructor(options: KubeApiServerOptions = {}) {
    this.historyLimit = options.historyLimit ?? 10_000;
    for (const t of BUILT_IN) this.register(t);
    for (const ns of ['default', 'kube-system']) {
      this.write(this.typeOf('', 'v1', 'namespaces'), 'ADDED', {
        apiVersion: 'v1',
        kind: 'Namespace',
        metadata: this.newMetadata({ name: ns }),
        status: { phase: 'Active' },
      });
    }
  }

  async start(port = 0): Promise<string> {
    this.server = createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((resolve) => this.server?.listen(port, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this.url;
  }

  async stop(): Promise<void> {
    this.dropWatches();
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) =>
      this.server ? this.server.close(() => resolve()) : resolve(),
    );
  }

  /** A kubeconfig for this server (for kubectl, and for the operator). */
  kubeconfig(namespace = 'default'): string {
    return [
      'apiVersion: v1',
      'kind: Config',
      'clusters:',
      `- name: test`,
      `  cluster: { server: "${this.url}", insecure-skip-tls-verify: true }`,
      'users:',
      '- name: test',
      '  user: { token: test-token }',
      'contexts:',
      `- name: test`,
      `  context: { cluster: test, user: test, namespace: ${namespace} }`,
      'current-context: test',
      '',
    ].join('\n');
  }

  /** Ends every open watch, as a dropped connection or an API server restart would. */
  dropWatches(): void {
    for (const w of this.watchers) w.res.destroy();
    this.watchers.clear();
  }

  /** Forgets the watch history, so that resuming a watch from an older version gets 410 Gone. */
  compact(): void {
    this.history = [];
  }

  /** Open watches (for tests that wait for clients to reconnect). */
  get openWatches(): number {
    return this.watchers.size;
  }

  /** The stored objects of a resource (copies). */
  list(group: string, version: string, plural: string, namespace?: string): KubeObject[] {
    const bucket = this.store.get(typeKeyOf(group, version, plural)) ?? new Map();
    return [...bucket.values()]
      .filter((o) => namespace === undefined || o.metadata.namespace === namespace)
      .map(clone);
  }

  private register(t: ResourceType): void {
    const key = typeKeyOf(t.group, t.version, t.plural);
    this.types.set(key, t);
    if (!this.store.has(key)) this.store.set(key, new Map());
  }

  private typeOf(group: string, version: string, plural: string): ResourceType {
    const t = this.types.get(typeKeyOf(group, version, plural));
    if (t === undefined) {
      throw new ApiError(404, 'NotFound', 'the server could not find the requested resource');
    }
    return t;
  }

  private newMetadata(metadata: Json): Json {
    return {
      ...metadata,
      uid: randomUUID(),
      creationTimestamp: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
      generation: 1,
    };
  }

  /** Stores a write, gives it the next resourceVersion, and tells the watches. */
  private write(t: ResourceType, type: WatchEvent['type'], input: KubeObject): KubeObject {
    // Custom resources are unstructured in kube-apiserver: encoding/json writes their maps with
    // sorted keys, so a client never gets back the key order it sent (apimachinery
    // unstructured.UnstructuredJSONScheme -> json.Marshal of map[string]interface{}).
    const rv = ++this.revision;
    input.metadata.resourceVersion = String(rv);
    const object = t.schema === undefined ? input : (sortKeys(input) as KubeObject);
    const typeKey = typeKeyOf(t.group, t.version, t.plural);
    const key = storeKey(object);
    const bucket = this.store.get(typeKey) as Map<string, KubeObject>;
    if (type === 'DELETED') bucket.delete(key);
    else bucket.set(key, object);
    const event: WatchEvent = { rv, type, typeKey, object: clone(object) };
    this.history.push(event);
    if (this.history.length > this.historyLimit) this.history.shift();
    for (const w of this.watchers) this.send(w, event);
    if (t.kind === 'CustomResourceDefinition') this.serveDefinition(object, type);
    return object;
  }

  private send(w: Watcher, event: WatchEvent): void {
    if (w.typeKey !== event.typeKey) return;
    if (w.namespace !== undefined && event.object.metadata.namespace !== w.namespace) return;
    if (!w.filter(event.object)) return;
    w.res.write(`${JSON.stringify({ type: event.type, object: event.object })}\n`);
  }

  private serveDefinition(crd: KubeObject, type: WatchEvent['type']): void {
    const spec = crd.spec as Json;
    const names = spec.names as Json;
    for (const v of spec.versions as Json[]) {
      const key = typeKeyOf(String(spec.group), String(v.name), String(names.plural));
      if (type === 'DELETED') {
        this.types.delete(key);
        this.store.delete(key);
        continue;
      }
      this.register({
        group: String(spec.group),
        version: String(v.name),
        kind: String(names.kind),
        plural: String(names.plural),
        singular: String(names.singular ?? String(names.kind).toLowerCase()),
        namespaced: spec.scope === 'Namespaced',
        shortNames: (names.shortNames as string[] | undefined) ?? [],
        categories: (names.categories as string[] | undefined) ?? [],
        statusSubresource: (v.subresources as Json | undefined)?.status !== undefined,
        schema: (v.schema as Json | undefined)?.openAPIV3Schema as Json | undefined,
        printerColumns: (v.additionalPrinterColumns as ResourceType['printerColumns']) ?? [],
      });
    }
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    try {
      const url = new URL(req.url ?? '/', 'http://localhost');
      const body = await readBody(req);
      const result = this.route(req, url, body, res);
      if (result === 'streaming') return;
      // A create answers 201 Created, as kube-apiserver does (handlers/create.go).
      respond(res, req.method === 'POST' ? 201 : 200, result);
    } catch (error) {
      if (res.headersSent) {
        res.destroy();
        return;
      }
      const e =
        error instanceof ApiError
          ? error
          : new ApiError(
              500,
              'InternalError',
              error instanceof Error ? error.message : String(error),
            );
      respond(res, e.code, {
        kind: 'Status',
        apiVersion: 'v1',
        metadata: {},
        status: 'Failure',
        message: e.message,
        reason: e.reason,
        ...(e.details && { details: e.details }),
        code: e.code,
      });
    }
  }

  private route(req: IncomingMessage, url: URL, body: string, res: ServerResponse): unknown {
    const path = url.pathname.replace(/\/+$/, '');
    const method = req.method ?? 'GET';
    if (path === '/version') {
      return {
        major: '1',
        minor: '30',
        gitVersion: 'v1.30.0-roster-test',
        platform: 'linux/amd64',
      };
    }
    if (path === '/healthz' || path === '/readyz' || path === '/livez') return 'ok';
    if (path === '/api') {
      return { kind: 'APIVersions', versions: ['v1'], serverAddressByClientCIDRs: [] };
    }
    if (path === '/apis') return this.groupList();
    const parts = path.split('/').filter(Boolean);
    let group: string;
    let version: string;
    let rest: string[];
    if (parts[0] === 'api' && parts.length >= 2) {
      group = '';
      version = parts[1] as string;
      rest = parts.slice(2);
    } else if (parts[0] === 'apis' && parts.length >= 3) {
      group = parts[1] as string;
      version = parts[2] as string;
      rest = parts.slice(3);
    } else {
      throw new ApiError(404, 'NotFound', 'the server could not find the requested resource');
    }
    if (rest.length === 0) return this.resourceList(group, version);

    let namespace: string | undefined;
    if (rest[0] === 'namespaces' && rest.length >= 3) {
      namespace = rest[1];
      rest = rest.slice(2);
    }
    const [plural = '', name, subresource] = rest;
    const t = this.typeOf(group, version, plural);
    if (!t.namespaced && namespace !== undefined) {
      throw new ApiError(404, 'NotFound', 'the server could not find the requested resource');
    }
    const watch = url.searchParams.get('watch');
    const verb =
      method === 'GET'
        ? name === undefined
          ? watch === 'true' || watch === '1'
            ? 'watch'
            : 'list'
          : 'get'
        : method === 'POST'
          ? 'create'
          : method === 'PUT'
            ? 'update'
            : method === 'PATCH'
              ? 'patch'
              : method === 'DELETE'
                ? 'delete'
                : method.toLowerCase();
    this.requests.push({
      verb,
      group,
      resource: plural,
      ...(subresource !== undefined && { subresource }),
      ...(namespace !== undefined && { namespace }),
      userAgent: String(req.headers['user-agent'] ?? ''),
    });
    if (subresource !== undefined && !(subresource === 'status' && t.statusSubresource)) {
      throw new ApiError(404, 'NotFound', 'the server could not find the requested resource');
    }
    if (t.namespaced && namespace !== undefined && method !== 'GET' && method !== 'DELETE') {
      this.requireNamespace(namespace);
    }

    switch (verb) {
      case 'watch':
        this.watch(t, namespace, url, res);
        return 'streaming';
      case 'list':
        return this.listResponse(t, namespace, url, String(req.headers.accept ?? ''));
      case 'get': {
        const object = this.find(t, namespace, name as string);
        return wantsTable(req) ? this.table(t, [object], url) : object;
      }
      case 'create':
        if (name !== undefined) throw new ApiError(405, 'MethodNotAllowed', 'POST to a name');
        return this.create(t, namespace, parseJson(body), url);
      case 'update':
        return this.update(t, namespace, name as string, subresource, parseJson(body), url);
      case 'patch':
        return this.patch(
          t,
          namespace,
          name as string,
          subresource,
          String(req.headers['content-type'] ?? ''),
          body,
          url,
        );
      case 'delete':
        return this.delete(t, namespace, name as string);
      default:
        throw new ApiError(405, 'MethodNotAllowed', `${method} is not supported`);
    }
  }

  private requireNamespace(namespace: string): void {
    const bucket = this.store.get(typeKeyOf('', 'v1', 'namespaces'));
    if (!bucket?.has(`/${namespace}`)) {
      throw new ApiError(404, 'NotFound', `namespaces "${namespace}" not found`, {
        name: namespace,
        kind: 'namespaces',
      });
    }
  }

  private groupList(): Json {
    const groups = new Map<string, Set<string>>();
    for (const t of this.types.values()) {
      if (t.group === '') continue;
      const versions = groups.get(t.group) ?? new Set();
      versions.add(t.version);
      groups.set(t.group, versions);
    }
    return {
      kind: 'APIGroupList',
      apiVersion: 'v1',
      groups: [...groups].map(([name, versions]) => {
        const list = [...versions].map((v) => ({ groupVersion: `${name}/${v}`, version: v }));
        return { name, versions: list, preferredVersion: list[0] };
      }),
    };
  }

  private resourceList(group: string, version: string): Json {
    const resources = [...this.types.values()].filter(
      (t) => t.group === group && t.version === version,
    );
    if (resources.length === 0) {
      throw new ApiError(404, 'NotFound', 'the server could not find the requested resource');
    }
    const verbs = ['create', 'delete', 'get', 'list', 'patch', 'update', 'watch'];
    return {
      kind: 'APIResourceList',
      apiVersion: 'v1',
      groupVersion: group === '' ? version : `${group}/${version}`,
      resources: resources.flatMap((t) => [
        {
          name: t.plural,
          singularName: t.singular,
          namespaced: t.namespaced,
          kind: t.kind,
          verbs,
          ...(t.shortNames.length > 0 && { shortNames: t.shortNames }),
          ...(t.categories.length > 0 && { categories: t.categories }),
        },
        ...(t.statusSubresource
          ? [
              {
                name: `${t.plural}/status`,
                singularName: '',
                namespaced: t.namespaced,
                kind: t.kind,
                verbs: ['get', 'patch', 'update'],
              },
            ]
          : []),
      ]),
    };
  }

  private bucket(t: ResourceType): Map<string, KubeObject> {
    return this.store.get(typeKeyOf(t.group, t.version, t.plural)) as Map<string, KubeObject>;
  }

  private find(t: ResourceType, namespace: string | undefined, name: string): KubeObject {
    const object = this.bucket(t).get(`${t.namespaced ? (namespace ?? '') : ''}/${name}`);
    if (object === undefined) {
      throw new ApiError(404, 'NotFound', `${resourceName(t)} "${name}" not found`, {
        name,
        group: t.group,
        kind: t.plural,
      });
    }
    return clone(object);
  }

  private selected(t: ResourceType, namespace: string | undefined, url: URL): KubeObject[] {
    const filter = selectorFilter(url);
    return [...this.bucket(t).values()]
      .filter((o) => namespace === undefined || o.metadata.namespace === namespace)
      .filter(filter)
      .sort((a, b) => storeKey(a).localeCompare(storeKey(b)))
      .map(clone);
  }

  private listResponse(t: ResourceType, namespace: string | undefined, url: URL, accept: string) {
    const items = this.selected(t, namespace, url);
    if (accept.includes('as=Table')) return this.table(t, items, url);
    return {
      apiVersion: apiVersionOf(t),
      kind: `${t.kind}List`,
      metadata: { resourceVersion: String(this.revision) },
      items,
    };
  }

  private watch(t: ResourceType, namespace: string | undefined, url: URL, res: ServerResponse) {
    const from = url.searchParams.get('resourceVersion');
    const filter = selectorFilter(url);
    const typeKey = typeKeyOf(t.group, t.version, t.plural);
    res.writeHead(200, { 'Content-Type': 'application/json', 'Transfer-Encoding': 'chunked' });
    res.flushHeaders();
    const watcher: Watcher = { typeKey, namespace, filter, res };
    if (from === null || from === '' || from === '0') {
      for (const object of this.selected(t, namespace, url)) {
        this.send(watcher, { rv: 0, type: 'ADDED', typeKey, object });
      }
    } else {
      const rv = Number(from);
      const oldest = this.history[0]?.rv ?? this.revision + 1;
      if (!Number.isInteger(rv) || rv < oldest - 1) {
        res.end(
          `${JSON.stringify({
            type: 'ERROR',
            object: {
              kind: 'Status',
              apiVersion: 'v1',
              metadata: {},
              status: 'Failure',
              message: `too old resource version: ${from} (${oldest - 1})`,
              reason: 'Expired',
              code: 410,
            },
          })}\n`,
        );
        return;
      }
      for (const event of this.history) if (event.rv > rv) this.send(watcher, event);
    }
    this.watchers.add(watcher);
    const timeout = Number(url.searchParams.get('timeoutSeconds') ?? 0);
    const timer = timeout > 0 ? setTimeout(() => res.end(), timeout * 1000) : undefined;
    res.on('close', () => {
      if (timer) clearTimeout(timer);
      this.watchers.delete(watcher);
    });
  }

  private create(t: ResourceType, namespace: string | undefined, input: Json, url: URL) {
    const object = this.checkIdentity(t, namespace, input);
    const metadata = object.metadata;
    if (metadata.name === undefined && typeof metadata.generateName === 'string') {
      metadata.name = `${metadata.generateName}${randomUUID().slice(0, 5)}`;
    }
    const name = String(metadata.name ?? '');
    if (!DNS_SUBDOMAIN.test(name) || name.length > 253) {
      throw invalid(t, name, [
        `metadata.name: Invalid value: "${name}": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character`,
      ]);
    }
    if (this.bucket(t).has(storeKey(object))) {
      throw new ApiError(409, 'AlreadyExists', `${resourceName(t)} "${name}" already exists`, {
        name,
        group: t.group,
        kind: t.plural,
      });
    }
    decodeTimes(t, object);
    const { resourceVersion: _rv, deletionTimestamp: _dt, ...rest } = metadata;
    object.metadata = this.newMetadata(rest);
    if (t.statusSubresource && t.schema !== undefined) delete object.status;
    this.validate(t, object, url);
    return this.write(t, 'ADDED', object);
  }

  private checkIdentity(t: ResourceType, namespace: string | undefined, input: Json): KubeObject {
    if (input.kind !== undefined && input.kind !== t.kind) {
      throw new ApiError(
        400,
        'BadRequest',
        `the kind ${String(input.kind)} does not match ${t.kind}`,
      );
    }
    const metadata = { ...((input.metadata as Json | undefined) ?? {}) };
    if (t.namespaced) {
      const ns = metadata.namespace ?? namespace;
      if (namespace !== undefined && ns !== namespace) {
        throw new ApiError(
          400,
          'BadRequest',
          'the namespace of the provided object does not match the namespace sent on the request',
        );
      }
      if (ns === undefined) throw new ApiError(400, 'BadRequest', 'a namespace is required');
      metadata.namespace = ns;
    } else {
      delete metadata.namespace;
    }
    return { ...input, apiVersion: apiVersionOf(t), kind: t.kind, metadata };
  }

  private update(
    t: ResourceType,
    namespace: string | undefined,
    name: string,
    subresource: string | undefined,
    input: Json,
    url: URL,
  ): KubeObject {
    const current = this.find(t, namespace, name);
    const next = this.checkIdentity(t, namespace, input);
    // An update (PUT) of a custom resource must say which version it replaces; built-in kinds
    // allow unconditional updates (apiextensions-apiserver customResourceStrategy
    // AllowUnconditionalUpdate() returns false).
    if (t.schema !== undefined && (next.metadata.resourceVersion ?? '') === '') {
      throw invalid(t, name, [
        'metadata.resourceVersion: Invalid value: 0x0: must be specified for an update',
      ]);
    }
    decodeTimes(t, next);
    checkResourceVersion(t, current, next);
    return this.replace(t, current, next, subresource, url);
  }

  /** Writes `next` over `current` with the rules of metadata, status and generation. */
  private replace(
    t: ResourceType,
    current: KubeObject,
    next: KubeObject,
    subresource: string | undefined,
    url: URL,
  ): KubeObject {
    let result: KubeObject;
    if (subresource === 'status') {
      result = { ...current, status: next.status };
    } else {
      const keep = [
        'uid',
        'creationTimestamp',
        'generation',
        'deletionTimestamp',
        'namespace',
        'name',
      ];
      const metadata: Json = { ...next.metadata };
      for (const k of keep) {
        if (current.metadata[k] === undefined) delete metadata[k];
        else metadata[k] = current.metadata[k];
      }
      result = { ...next, metadata };
      if (t.statusSubresource) {
        if (current.status === undefined) delete result.status;
        else result.status = current.status;
      }
      const deleting = current.metadata.deletionTimestamp !== undefined;
      const before = new Set((current.metadata.finalizers as string[] | undefined) ?? []);
      const after = (metadata.finalizers as string[] | undefined) ?? [];
      if (deleting && after.some((f) => !before.has(f))) {
        throw invalid(t, String(current.metadata.name), [
          'metadata.finalizers: Forbidden: no new finalizers can be added if the object is being deleted',
        ]);
      }
      if (after.length === 0) delete metadata.finalizers;
      if (JSON.stringify(specPart(current)) !== JSON.stringify(specPart(result))) {
        metadata.generation = Number(current.metadata.generation ?? 1) + 1;
      }
    }
    this.validate(t, result, url, current);
    const finalizers = (result.metadata.finalizers as string[] | undefined) ?? [];
    if (result.metadata.deletionTimestamp !== undefined && finalizers.length === 0) {
      return this.write(t, 'DELETED', result);
    }
    if (JSON.stringify(result) === JSON.stringify(current)) return current;
    return this.write(t, 'MODIFIED', result);
  }

  private patch(
    t: ResourceType,
    namespace: string | undefined,
    name: string,
    subresource: string | undefined,
    contentType: string,
    body: string,
    url: URL,
  ): KubeObject {
    if (contentType.startsWith('application/apply-patch+yaml')) {
      return this.serverSideApply(t, namespace, name, subresource, body, url);
    }
    const current = this.find(t, namespace, name);
    let next: Json;
    if (contentType.startsWith('application/json-patch+json')) {
      next = jsonPatch(current, parseJson(body) as unknown as Json[]);
    } else if (contentType.startsWith('application/merge-patch+json')) {
      next = mergePatch(current, parseJson(body)) as Json;
    } else if (contentType.startsWith('application/strategic-merge-patch+json')) {
      // Built-in kinds here have no list merge keys that matter, so a merge patch is the same.
      if (t.schema !== undefined) {
        throw new ApiError(
          415,
          'UnsupportedMediaType',
          'strategic merge patch is not supported for custom resources',
        );
      }
      next = mergePatch(current, parseJson(body)) as Json;
    } else {
      throw new ApiError(
        415,
        'UnsupportedMediaType',
        `the media type ${contentType} is not supported`,
      );
    }
    const patched = this.checkIdentity(t, namespace, next);
    decodeTimes(t, patched);
    checkResourceVersion(t, current, patched);
    return this.replace(t, current, patched, subresource, url);
  }

  /**
   * Server-side apply (`kubectl apply --server-side`, Flux, Argo CD), as far as these CRDs need:
   * the applied configuration is merged into the object (created if absent); each field manager
   * owns the leaf fields it applied (arrays are atomic); a field its last apply set and this one
   * leaves out is removed; a field another manager set to a different value is a 409 conflict
   * unless `force=true`, which takes it over. `fieldManager` is required. Ownership is kept in
   * metadata.managedFields as FieldsV1 (k8s.io/apimachinery/pkg/util/managedfields).
   */
  private serverSideApply(
    t: ResourceType,
    namespace: string | undefined,
    name: string,
    subresource: string | undefined,
    body: string,
    url: URL,
  ): KubeObject {
    const manager = url.searchParams.get('fieldManager') ?? '';
    if (manager === '') {
      throw new ApiError(
        400,
        'BadRequest',
        'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: is required for apply patch',
      );
    }
    const force = url.searchParams.get('force') === 'true';
    const applied = this.checkIdentity(t, namespace, parseYamlOrJson(body));
    if (applied.metadata.name !== undefined && applied.metadata.name !== name) {
      throw new ApiError(
        400,
        'BadRequest',
        'the name of the object does not match the name on the URL',
      );
    }
    const existing = this.bucket(t).get(`${t.namespaced ? (namespace ?? '') : ''}/${name}`);
    const section = subresource === 'status' ? ['status'] : ['spec', 'metadata'];
    const owned = leafPaths(applied).filter(
      (p) => section.includes(p[0] ?? '') && !SYSTEM_FIELD(p),
    );
    if (existing === undefined) {
      const created: Json = { ...applied, metadata: { ...applied.metadata, name } };
      (created.metadata as Json).managedFields = [
        managedEntry(manager, 'Apply', apiVersionOf(t), owned),
      ];
      return this.create(t, namespace, created, url);
    }
    const current = clone(existing);
    const entries = ((current.metadata.managedFields as Json[] | undefined) ?? []).map(clone);
    const ownedBy = (entry: Json) => fieldPaths(entry.fieldsV1 as Json);
    const conflicts: string[] = [];
    for (const entry of entries) {
      if (entry.manager === manager) continue;
      for (const path of ownedBy(entry)) {
        if (!owned.some((p) => samePath(p, path))) continue;
        if (JSON.stringify(valueAt(current, path)) !== JSON.stringify(valueAt(applied, path))) {
          conflicts.push(`conflict with "${String(entry.manager)}": .${path.join('.')}`);
        }
      }
    }
    if (conflicts.length > 0 && !force) {
      throw new ApiError(
        409,
        'Conflict',
        `Apply failed with ${conflicts.length} conflict${conflicts.length === 1 ? '' : 's'}: ${conflicts.join(', ')}`,
      );
    }
    const mine = entries.find((e) => e.manager === manager && e.operation === 'Apply');
    const before = mine === undefined ? [] : ownedBy(mine);
    const next = clone(current) as Json;
    // Fields this manager applied before and no longer applies go, unless another one owns them.
    for (const path of before) {
      if (owned.some((p) => samePath(p, path))) continue;
      const shared = entries.some(
        (e) => e.manager !== manager && ownedBy(e).some((p) => samePath(p, path)),
      );
      if (!shared) removeAt(next, path);
    }
    for (const path of owned) setAt(next, path, clone(valueAt(applied, path)));
    const others = entries
      .filter((e) => !(e.manager === manager && e.operation === 'Apply'))
      .map((e) =>
        force
          ? managedEntry(
              String(e.manager),
              String(e.operation),
              String(e.apiVersion),
              ownedBy(e).filter((p) => !owned.some((q) => samePath(p, q))),
            )
          : e,
      );
    (next.metadata as Json).managedFields = [
      ...others,
      managedEntry(manager, 'Apply', apiVersionOf(t), owned),
    ];
    const patched = this.checkIdentity(t, namespace, next);
    return this.replace(t, current, patched, subresource, url);
  }

  private delete(t: ResourceType, namespace: string | undefined, name: string): KubeObject {
    const current = this.find(t, namespace, name);
    const finalizers = (current.metadata.finalizers as string[] | undefined) ?? [];
    if (finalizers.length > 0) {
      if (current.metadata.deletionTimestamp !== undefined) return current;
      current.metadata.deletionTimestamp = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
      current.metadata.deletionGracePeriodSeconds = 0;
      // Setting the deletion timestamp is a change of the object's desired state: the generation
      // moves (apiserver registry/rest BeforeDelete increments it when it is set).
      if (current.metadata.generation !== undefined) {
        current.metadata.generation = Number(current.metadata.generation) + 1;
      }
      return this.write(t, 'MODIFIED', current);
    }
    return this.write(t, 'DELETED', current);
  }

  /**
   * Applies the CRD's structural schema: defaults, then pruning or refusal, then checks, then the
   * `x-kubernetes-validations` CEL rules (transition rules, those naming `oldSelf`, only on an
   * update where the old value exists).
   */
  private validate(t: ResourceType, object: KubeObject, url: URL, old?: KubeObject): void {
    if (t.kind === 'CustomResourceDefinition') checkDefinition(object);
    if (t.schema === undefined) return;
    const strict = url.searchParams.get('fieldValidation') === 'Strict';
    const errors: string[] = [];
    const unknown: string[] = [];
    const { metadata, apiVersion, kind, ...content } = object;
    const checked = checkValue(t.schema, { ...content }, '', errors, unknown) as Json;
    if (unknown.length > 0 && strict) {
      throw new ApiError(
        400,
        'BadRequest',
        `${t.kind} in version "${t.version}" cannot be handled as a ${t.kind}: strict decoding error: ${unknown.map((u) => `unknown field "${u}"`).join(', ')}`,
      );
    }
    if (errors.length > 0) throw invalid(t, String(metadata.name), errors);
    const { metadata: _m, apiVersion: _a, kind: _k, ...before } = old ?? { metadata: {} };
    evaluateRules(t.schema, checked, old === undefined ? undefined : before, '', errors);
    if (errors.length > 0) throw invalid(t, String(metadata.name), errors);
    for (const key of Object.keys(object)) delete object[key];
    Object.assign(object, { apiVersion, kind, metadata, ...checked });
  }

  /** A `meta.k8s.io/v1` Table of objects, with the CRD's printer columns. */
  private table(t: ResourceType, items: KubeObject[], url: URL): Json {
    void url;
    const columns = [
      { name: 'Name', type: 'string', format: 'name', description: 'Name', priority: 0 },
      ...(t.printerColumns.length > 0
        ? t.printerColumns.map((c) => ({
            name: c.name,
            type: c.type,
            format: '',
            description: '',
            priority: c.priority ?? 0,
          }))
        : [{ name: 'Age', type: 'date', format: '', description: '', priority: 0 }]),
    ];
    const paths =
      t.printerColumns.length > 0
        ? t.printerColumns.map((c) => c.jsonPath)
        : ['.metadata.creationTimestamp'];
    return {
      kind: 'Table',
      apiVersion: 'meta.k8s.io/v1',
      metadata: { resourceVersion: String(this.revision) },
      columnDefinitions: columns,
      rows: items.map((o) => ({
        cells: [
          o.metadata.name,
          ...paths.map((p, i) => {
            const value = jsonPath(o, p);
            if (value === undefined) return null;
            if (columns[i + 1]?.type === 'date') return age(String(value));
            return value;
          }),
        ],
        object: {
          kind: 'PartialObjectMetadata',
          apiVersion: 'meta.k8s.io/v1',
          metadata: o.metadata,
        },
      })),
    };
  }
}

/** Every object's keys in sorted order, at every level (arrays keep their order). */
function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(
    Object.keys(value as Json)
      .sort()
      .map((k) => [k, sortKeys((value as Json)[k])]),
  );
}

/**
 * metav1.Time: RFC 3339, seconds precision on output; Go's time.Parse(time.RFC3339) accepts a
 * fraction on input. metav1.MicroTime: RFC3339Micro, "2006-01-02T15:04:05.000000Z07:00", whose
 * fixed ".000000" makes time.Parse demand exactly six fractional digits (apimachinery
 * pkg/apis/meta/v1/micro_time.go UnmarshalJSON). A value that does not parse fails the whole
 * request with 400, as the decoder does.
 */
const RFC3339 = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/;
const RFC3339_MICRO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}(Z|[+-]\d\d:\d\d)$/;

function decodeTimes(t: ResourceType, object: KubeObject): void {
  const fail = (value: unknown, layout: string) => {
    throw new ApiError(
      400,
      'BadRequest',
      `${t.kind} in version "${t.version}" cannot be handled as a ${t.kind}: parsing time ${JSON.stringify(value)} as "${layout}": cannot parse`,
    );
  };
  const time = (value: unknown) => {
    if (value !== undefined && value !== null && !RFC3339.test(String(value))) {
      fail(value, '2006-01-02T15:04:05Z07:00');
    }
  };
  const microTime = (value: unknown) => {
    if (value !== undefined && value !== null && !RFC3339_MICRO.test(String(value))) {
      fail(value, '2006-01-02T15:04:05.000000Z07:00');
    }
  };
  time(object.metadata.creationTimestamp);
  time(object.metadata.deletionTimestamp);
  if (t.kind === 'Lease') {
    const spec = (object.spec as Json | undefined) ?? {};
    microTime(spec.acquireTime);
    microTime(spec.renewTime);
  }
  if (t.kind === 'Event') {
    time(object.firstTimestamp);
    time(object.lastTimestamp);
    microTime(object.eventTime);
  }
  const status = object.status as Json | undefined;
  for (const c of (status?.conditions as Json[] | undefined) ?? []) time(c.lastTransitionTime);
}

/**
 * The CRD's CEL rules, evaluated with a real CEL implementation (@bufbuild/cel, which passes the
 * CEL conformance suite: `||` absorbs an error when the other side is true, as kube's cel-go does)
 * as the apiextensions
 * apiserver does (staging/src/k8s.io/apiextensions-apiserver/pkg/apiserver/schema/cel): `self` is
 * the value where the rule is declared, `oldSelf` the previous one; a rule that names `oldSelf` is
 * a transition rule and runs only on an update where the old value exists. A failed rule reports
 * `<path>: Invalid value: "object": <message>`.
 */
function evaluateRules(
  schema: Json,
  value: unknown,
  old: unknown,
  path: string,
  errors: string[],
): void {
  if (value === undefined || value === null) return;
  const at = path === '' ? '<root>' : path;
  for (const rule of (schema['x-kubernetes-validations'] as Json[] | undefined) ?? []) {
    const expression = String(rule.rule);
    const transition = /\boldSelf\b/.test(expression);
    if (transition && (old === undefined || old === null)) continue;
    let passed: unknown;
    try {
      passed = runCel(expression, {
        self: toCel(schema, value),
        ...(transition && { oldSelf: toCel(schema, old) }),
      });
    } catch (error) {
      passed = error;
    }
    if (isCelError(passed) || passed instanceof Error) {
      errors.push(`${at}: Invalid value: "object": ${(passed as Error).message}`);
      continue;
    }
    if (passed !== true) {
      errors.push(
        `${at}: Invalid value: "${typeName(value)}": ${String(rule.message ?? `failed rule: ${expression}`)}`,
      );
    }
  }
  const props = schema.properties as Record<string, Json> | undefined;
  if (props !== undefined && typeof value === 'object' && !Array.isArray(value)) {
    for (const [key, sub] of Object.entries(props)) {
      const child = path === '' ? key : `${path}.${key}`;
      const before = old !== null && typeof old === 'object' ? (old as Json)[key] : undefined;
      evaluateRules(sub, (value as Json)[key], before, child, errors);
    }
  }
  const items = schema.items as Json | undefined;
  if (items !== undefined && Array.isArray(value)) {
    // Atomic lists have no correlation between old and new items: their transition rules do not run.
    value.forEach((item, i) => evaluateRules(items, item, undefined, `${path}[${i}]`, errors));
  }
}

/**
 * A CRD must be structural and its CEL rules must compile, or the API server refuses it
 * (apiextensions validation: "must be structural", "compilation failed").
 */
function checkDefinition(crd: KubeObject): void {
  const problems: string[] = [];
  const spec = (crd.spec as Json | undefined) ?? {};
  for (const [i, version] of ((spec.versions as Json[] | undefined) ?? []).entries()) {
    const schema =
      ((version.schema as Json | undefined)?.openAPIV3Schema as Json | undefined) ?? {};
    walkSchema(schema, `spec.versions[${i}].schema.openAPIV3Schema`, (node, at) => {
      const free =
        node['x-kubernetes-int-or-string'] === true ||
        node['x-kubernetes-preserve-unknown-fields'] === true;
      if (node.type === undefined && !free) {
        problems.push(`${at}.type: Required value: must not be empty for specified object fields`);
      }
      for (const rule of (node['x-kubernetes-validations'] as Json[] | undefined) ?? []) {
        try {
          parseCel(String(rule.rule));
        } catch (error) {
          problems.push(
            `${at}.x-kubernetes-validations: Invalid value: ${JSON.stringify(rule.rule)}: compilation failed: ${(error as Error).message}`,
          );
        }
      }
    });
  }
  if (problems.length > 0) {
    throw new ApiError(
      422,
      'Invalid',
      `CustomResourceDefinition.apiextensions.k8s.io "${String(crd.metadata.name)}" is invalid: ${problems.join(', ')}`,
    );
  }
}

/**
 * A JSON value as CEL sees it under its schema, as the apiserver's CEL adapter types it: objects
 * are maps, `integer` is int (a bigint here; a JSON number would be a double, and int + double
 * has no overload in CEL), `number` is double.
 */
function toCel(schema: Json | undefined, value: unknown): CelInput {
  if (value === null || value === undefined) return null;
  if (Array.isArray(value)) return value.map((v) => toCel(schema?.items as Json | undefined, v));
  if (typeof value === 'object') {
    const props = (schema?.properties as Record<string, Json> | undefined) ?? {};
    const additional =
      typeof schema?.additionalProperties === 'object'
        ? (schema.additionalProperties as Json)
        : undefined;
    return new Map(
      Object.entries(value as Json).map(([k, v]) => [k, toCel(props[k] ?? additional, v)]),
    );
  }
  if (typeof value === 'number' && schema?.type === 'integer') return BigInt(value);
  return value as CelInput;
}

function walkSchema(node: Json, at: string, visit: (node: Json, at: string) => void): void {
  visit(node, at);
  for (const [key, sub] of Object.entries(
    (node.properties as Record<string, Json> | undefined) ?? {},
  )) {
    walkSchema(sub, `${at}.properties[${key}]`, visit);
  }
  if (node.items !== undefined) walkSchema(node.items as Json, `${at}.items`, visit);
  if (typeof node.additionalProperties === 'object' && node.additionalProperties !== null) {
    walkSchema(node.additionalProperties as Json, `${at}.additionalProperties`, visit);
  }
}

type FieldPath = string[];

/** Fields kube-apiserver manages itself, never owned by a field manager. */
const SYSTEM_FIELD = (path: FieldPath) =>
  path[0] === 'metadata' &&
  [
    'name',
    'namespace',
    'uid',
    'resourceVersion',
    'generation',
    'creationTimestamp',
    'managedFields',
    'deletionTimestamp',
  ].includes(path[1] ?? '');

/** The leaf paths of a value; lists are atomic (one leaf). */
function leafPaths(value: unknown, prefix: FieldPath = []): FieldPath[] {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return [prefix];
  const entries = Object.entries(value as Json);
  if (entries.length === 0) return prefix.length === 0 ? [] : [prefix];
  return entries.flatMap(([k, v]) => leafPaths(v, [...prefix, k]));
}

const samePath = (a: FieldPath, b: FieldPath) =>
  a.length === b.length && a.every((s, i) => s === b[i]);

function valueAt(value: unknown, path: FieldPath): unknown {
  let at: unknown = value;
  for (const s of path) at = at !== null && typeof at === 'object' ? (at as Json)[s] : undefined;
  return at;
}

function setAt(target: Json, path: FieldPath, value: unknown): void {
  let at = target;
  for (const s of path.slice(0, -1)) {
    if (at[s] === null || typeof at[s] !== 'object' || Array.isArray(at[s])) at[s] = {};
    at = at[s] as Json;
  }
  at[path[path.length - 1] ?? ''] = value;
}

function removeAt(target: Json, path: FieldPath): void {
  const parent = valueAt(target, path.slice(0, -1));
  if (parent !== null && typeof parent === 'object') {
    delete (parent as Json)[path[path.length - 1] ?? ''];
  }
}

/** A managedFields entry whose FieldsV1 lists `paths` (`{"f:spec":{"f:role":{}}}`). */
function managedEntry(
  manager: string,
  operation: string,
  apiVersion: string,
  paths: FieldPath[],
): Json {
  const fields: Json = {};
  for (const path of paths) {
    let at = fields;
    for (const s of path) at = (at[`f:${s}`] ??= {}) as Json;
  }
  return {
    manager,
    operation,
    apiVersion,
    time: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
    fieldsType: 'FieldsV1',
    fieldsV1: fields,
  };
}

/** The leaf paths a FieldsV1 set lists. */
function fieldPaths(fields: Json | undefined, prefix: FieldPath = []): FieldPath[] {
  const entries = Object.entries(fields ?? {}).filter(([k]) => k.startsWith('f:'));
  if (entries.length === 0) return prefix.length === 0 ? [] : [prefix];
  return entries.flatMap(([k, v]) => fieldPaths(v as Json, [...prefix, k.slice(2)]));
}

/** An apply body: YAML (what the content type says), or JSON (what kubectl sends; JSON is YAML). */
function parseYamlOrJson(body: string): Json {
  try {
    const value = parseYaml(body) as unknown;
    if (value !== null && typeof value === 'object' && !Array.isArray(value)) return value as Json;
  } catch {
    // reported below
  }
  throw new ApiError(400, 'BadRequest', 'the apply patch is not a YAML or JSON object');
}

function storeKey(o: KubeObject): string {
  return `${String(o.metadata.namespace ?? '')}/${String(o.metadata.name)}`;
}

/** 409 Conflict when a write carries a resourceVersion that is not the current one. */
function checkResourceVersion(t: ResourceType, current: KubeObject, next: KubeObject): void {
  const rv = next.metadata.resourceVersion;
  if (rv === undefined || rv === current.metadata.resourceVersion) return;
  const name = String(current.metadata.name);
  throw new ApiError(
    409,
    'Conflict',
    `Operation cannot be fulfilled on ${resourceName(t)} "${name}": the object has been modified; please apply your changes to the latest version and try again`,
    { name, group: t.group, kind: t.plural },
  );
}

function resourceName(t: ResourceType): string {
  return t.group === '' ? t.plural : `${t.plural}.${t.group}`;
}

function invalid(t: ResourceType, name: string, causes: string[]): ApiError {
  return new ApiError(
    422,
    'Invalid',
    `${t.kind}${t.group === '' ? '' : `.${t.group}`} "${name}" is invalid: ${causes.join(', ')}`,
    {
      name,
      group: t.group,
      kind: t.kind,
      causes: causes.map((cause) => {
        const at = cause.indexOf(': ');
        return { field: cause.slice(0, at), message: cause.slice(at + 2) };
      }),
    },
  );
}

/** Everything but metadata and status: what bumps `metadata.generation`. */
function specPart(o: KubeObject): Json {
  const { metadata: _m, status: _s, ...rest } = o;
  return rest;
}

function wantsTable(req: IncomingMessage): boolean {
  return String(req.headers.accept ?? '').includes('as=Table');
}

function parseJson(body: string): Json {
  if (body.trim() === '') throw new ApiError(400, 'BadRequest', 'the request body is empty');
  try {
    const value: unknown = JSON.parse(body);
    if (typeof value !== 'object' || value === null) throw new Error('not an object');
    return value as Json;
  } catch (error) {
    throw new ApiError(400, 'BadRequest', `the body is not valid JSON: ${String(error)}`);
  }
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

function respond(res: ServerResponse, code: number, body: unknown): void {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  res.writeHead(code, {
    'Content-Type': typeof body === 'string' ? 'text/plain' : 'application/json',
    'Content-Length': Buffer.byteLength(text),
  });
  res.end(text);
}

function selectorFilter(url: URL): (o: KubeObject) => boolean {
  const labels = parseSelector(url.searchParams.get('labelSelector'));
  const fields = parseSelector(url.searchParams.get('fieldSelector'));
  return (o) => {
    const objectLabels = (o.metadata.labels as Record<string, string> | undefined) ?? {};
    for (const { key, value, negate } of labels) {
      const actual = objectLabels[key];
      const matches = value === undefined ? actual !== undefined : actual === value;
      if (matches === negate) return false;
    }
    for (const { key, value, negate } of fields) {
      const actual = jsonPath(o, `.${key}`);
      if ((String(actual ?? '') === value) === negate) return false;
    }
    return true;
  };
}

function parseSelector(text: string | null): { key: string; value?: string; negate: boolean }[] {
  if (text === null || text === '') return [];
  return text.split(',').map((term) => {
    const m = /^\s*([^!=\s]+)\s*(!=|==|=)?\s*([^\s]*)\s*$/.exec(term);
    if (m === null) throw new ApiError(400, 'BadRequest', `unable to parse requirement: ${term}`);
    const [, key = '', op, value] = m;
    if (op === undefined) return { key, negate: false };
    return { key, value, negate: op === '!=' };
  });
}

/** The subset of kubectl's JSONPath that printer columns use: fields, indexes, `[?(@.a=="b")]`. */
export function jsonPath(object: unknown, path: string): unknown {
  const tokens = path.match(/\.[^.[]+|\[\?\(@\.[^=]+==("[^"]*"|'[^']*')\)\]|\[\d+\]/g) ?? [];
  let current: unknown = object;
  for (const token of tokens) {
    if (current === undefined || current === null) return undefined;
    if (token.startsWith('[?')) {
      const m = /^\[\?\(@\.([^=]+)==["'](.*)["']\)\]$/.exec(token);
      if (!Array.isArray(current) || m === null) return undefined;
      current = current.find((item) => String((item as Json)[m[1] as string]) === m[2]);
    } else if (token.startsWith('[')) {
      current = Array.isArray(current) ? current[Number(token.slice(1, -1))] : undefined;
    } else {
      current = (current as Json)[token.slice(1)];
    }
  }
  return current;
}

function age(timestamp: string): string {
  const seconds = Math.max(0, Math.round((Date.now() - Date.parse(timestamp)) / 1000));
  if (seconds < 120) return `${seconds}s`;
  if (seconds < 7200) return `${Math.floor(seconds / 60)}m`;
  return `${Math.floor(seconds / 3600)}h`;
}

/** RFC 7386 JSON merge patch. */
export function mergePatch(target: unknown, patch: unknown): unknown {
  if (typeof patch !== 'object' || patch === null || Array.isArray(patch)) return clone(patch);
  const out: Json =
    typeof target === 'object' && target !== null && !Array.isArray(target)
      ? { ...(target as Json) }
      : {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete out[key];
    else out[key] = mergePatch(out[key], value);
  }
  return out;
}

/** RFC 6902 JSON patch: add, remove, replace, test. */
function jsonPatch(target: Json, operations: Json[]): Json {
  const doc = clone(target) as Json;
  for (const op of operations) {
    const segments = String(op.path)
      .split('/')
      .slice(1)
      .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
    const last = segments.pop() as string;
    let parent: unknown = doc;
    for (const s of segments) parent = (parent as Json)[s];
    if (typeof parent !== 'object' || parent === null) {
      throw new ApiError(422, 'Invalid', `the JSON patch path ${String(op.path)} does not exist`);
    }
    const container = parent as Json;
    switch (op.op) {
      case 'add':
        if (Array.isArray(container)) {
          const list = container as unknown[];
          list.splice(last === '-' ? list.length : Number(last), 0, op.value);
        } else container[last] = op.value;
        break;
      case 'replace':
        container[last] = op.value;
        break;
      case 'remove':
        if (Array.isArray(container)) (container as unknown[]).splice(Number(last), 1);
        else delete container[last];
        break;
      case 'test':
        if (JSON.stringify(container[last]) !== JSON.stringify(op.value)) {
          throw new ApiError(422, 'Invalid', `the JSON patch test at ${String(op.path)} failed`);
        }
        break;
      default:
        throw new ApiError(
          422,
          'Invalid',
          `the JSON patch operation ${String(op.op)} is not supported`,
        );
    }
  }
  return doc;
}

/**
 * Checks one value against a structural schema, as the API server does: defaults filled in,
 * unknown fields pruned (and reported), then type, enum, pattern, length and bound checks.
 */
function checkValue(
  schema: Json,
  value: unknown,
  path: string,
  errors: string[],
  unknown: string[],
): unknown {
  const at = path === '' ? '<root>' : path;
  const type = schema.type as string | undefined;
  if (value === null && schema.nullable === true) return value;
  if (type === 'object') {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      errors.push(
        `${at}: Invalid value: "${typeName(value)}": ${at} in body must be of type object: "${typeName(value)}"`,
      );
      return value;
    }
    const props = schema.properties as Record<string, Json> | undefined;
    const additional = schema.additionalProperties as Json | boolean | undefined;
    const preserve = schema['x-kubernetes-preserve-unknown-fields'] === true;
    const out: Json = {};
    const input = value as Json;
    if (props !== undefined) {
      for (const [key, sub] of Object.entries(props)) {
        if (input[key] === undefined && sub.default !== undefined) input[key] = clone(sub.default);
      }
    }
    for (const [key, v] of Object.entries(input)) {
      const child = path === '' ? key : `${path}.${key}`;
      const sub = props?.[key] ?? (typeof additional === 'object' ? additional : undefined);
      if (sub === undefined) {
        const freeForm = props === undefined && additional === undefined;
        if (preserve || freeForm || additional === true) out[key] = v;
        else unknown.push(child);
        continue;
      }
      out[key] = checkValue(sub, v, child, errors, unknown);
    }
    for (const required of (schema.required as string[] | undefined) ?? []) {
      if (out[required] === undefined) {
        errors.push(`${path === '' ? required : `${path}.${required}`}: Required value`);
      }
    }
    return out;
  }
  if (type === 'array') {
    if (!Array.isArray(value)) {
      errors.push(
        `${at}: Invalid value: "${typeName(value)}": ${at} in body must be of type array: "${typeName(value)}"`,
      );
      return value;
    }
    if (typeof schema.minItems === 'number' && value.length < schema.minItems) {
      errors.push(
        `${at}: Invalid value: ${value.length}: ${at} in body should have at least ${schema.minItems} items`,
      );
    }
    if (typeof schema.maxItems === 'number' && value.length > schema.maxItems) {
      errors.push(`${at}: Too many: ${value.length}: must have at most ${schema.maxItems} items`);
    }
    const items = schema.items as Json | undefined;
    const out =
      items === undefined
        ? value
        : value.map((v, i) => checkValue(items, v, `${path}[${i}]`, errors, unknown));
    if (schema['x-kubernetes-list-type'] === 'set') {
      const seen = new Set<string>();
      out.forEach((v, i) => {
        const k = JSON.stringify(v);
        if (seen.has(k)) errors.push(`${path}[${i}]: Duplicate value: ${k}`);
        seen.add(k);
      });
    }
    return out;
  }
  if (type === 'string') {
    if (typeof value !== 'string') {
      errors.push(
        `${at}: Invalid value: "${typeName(value)}": ${at} in body must be of type string: "${typeName(value)}"`,
      );
      return value;
    }
    if (typeof schema.minLength === 'number' && [...value].length < schema.minLength) {
      errors.push(
        `${at}: Invalid value: "${value}": ${at} in body should be at least ${schema.minLength} chars long`,
      );
    }
    if (typeof schema.maxLength === 'number' && [...value].length > schema.maxLength) {
      errors.push(`${at}: Too long: may not be more than ${schema.maxLength} bytes`);
    }
    if (typeof schema.pattern === 'string' && !new RegExp(schema.pattern, 'u').test(value)) {
      errors.push(
        `${at}: Invalid value: "${value}": ${at} in body should match '${schema.pattern}'`,
      );
    }
    if (schema.format === 'date-time' && Number.isNaN(Date.parse(value))) {
      errors.push(
        `${at}: Invalid value: "${value}": ${at} in body must be of type date-time: "${value}"`,
      );
    }
  } else if (type === 'integer' || type === 'number') {
    if (typeof value !== 'number' || (type === 'integer' && !Number.isInteger(value))) {
      errors.push(
        `${at}: Invalid value: "${typeName(value)}": ${at} in body must be of type ${type}: "${typeName(value)}"`,
      );
      return value;
    }
    if (typeof schema.minimum === 'number' && value < schema.minimum) {
      errors.push(
        `${at}: Invalid value: ${value}: ${at} in body should be greater than or equal to ${schema.minimum}`,
      );
    }
    if (typeof schema.maximum === 'number' && value > schema.maximum) {
      errors.push(
        `${at}: Invalid value: ${value}: ${at} in body should be less than or equal to ${schema.maximum}`,
      );
    }
  } else if (type === 'boolean' && typeof value !== 'boolean') {
    errors.push(
      `${at}: Invalid value: "${typeName(value)}": ${at} in body must be of type boolean: "${typeName(value)}"`,
    );
    return value;
  }
  const allowed = schema.enum as unknown[] | undefined;
  if (allowed !== undefined && !allowed.some((a) => JSON.stringify(a) === JSON.stringify(value))) {
    errors.push(
      `${at}: Unsupported value: ${JSON.stringify(value)}: supported values: ${allowed.map((a) => JSON.stringify(a)).join(', ')}`,
    );
  }
  return value;
}

function typeName(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  return typeof value;
}
