/**
 * The `ResourceProviderService` of pulumi-resource-roster, served directly on @grpc/grpc-js with
 * Pulumi's generated stubs (Pulumi's own `provider.main` drops Configure's values and detailed
 * diffs). Create, Read, Update and Delete go through Roster's planner and apply, so the same
 * rules hold as for the CLI: one owner, seats, other managers' records, removal caps.
 */
import type { LeastPrivilegePolicy } from '../core/least-privilege.js';
import { renderFindingsText } from '../core/render-findings.js';
import { readLintRules } from '../files/lint-rules.js';
import * as grpc from '@grpc/grpc-js';
import emptyPb from 'google-protobuf/google/protobuf/empty_pb.js';
import pluginPb from '@pulumi/pulumi/proto/plugin_pb.js';
import providerGrpc from '@pulumi/pulumi/proto/provider_grpc_pb.js';
import providerPb from '@pulumi/pulumi/proto/provider_pb.js';
import pg from 'pg';
import { emailIdentity } from '../core/email.js';
import { RosterError } from '../core/errors.js';
import { DEFAULT_MAX_ORG_REMOVAL_RATIO, type PlanOptions } from '../core/plan.js';
import type { RecordId } from '../core/records.js';
import { personByAlias, resolvePerson } from '../core/aliases.js';
import { applyChanges } from '../store/apply.js';
import { migrate } from '../store/migrate.js';
import { multiHostPool, parseMultiHostUrl } from '../store/hosts.js';
import { memberFacts } from '../store/member-facts.js';
import { readSnapshot } from '../store/snapshot.js';
import { deliverOutbox } from '../mail/deliver.js';
import { transportFromEnv, smtpTransport } from '../mail/transport.js';
import { localizationFrom, type Localization } from '../command/localization.js';
import { ROSTER_VERSION } from '../version.js';
import {
  checkInputs,
  idOf,
  inputsFromActual,
  inputsFromId,
  mainRecordId,
  orgOf,
  preferProgramSpelling,
  recordsOf,
} from './mapping.js';
import { containsUnknown, fromStruct, toStruct, UNKNOWN, type Properties } from './properties.js';
import { resourceTypeOf, type ResourceType } from './resources.js';
import { pulumiSchema } from './schema.js';

/** Provider configuration (from Pulumi config, falling back to the environment). */
interface ProviderConfig {
  databaseUrl?: string;
  smtpUrl?: string;
  publicUrl?: string;
  mailFrom?: string;
}

type Call<Req> = grpc.ServerUnaryCall<Req, unknown>;
type Callback = grpc.sendUnaryData<unknown>;

/** A gRPC error with a message Pulumi shows to the user. */
function failure(code: grpc.status, message: string): grpc.ServiceError {
  return Object.assign(new Error(message), {
    code,
    details: message,
    metadata: new grpc.Metadata(),
  }) as grpc.ServiceError;
}

/** `pulumi:<project>/<stack>` from `urn:pulumi:<stack>::<project>::<type>::<name>`. */
export function managerOf(urn: string): string {
  const [head = '', project = ''] = urn.split('::');
  return `pulumi:${project}/${head.replace(/^urn:pulumi:/, '')}`;
}

function typeOf(urn: string): ResourceType {
  const token = urn.split('::')[2] ?? '';
  const type = resourceTypeOf(token);
  if (type === undefined) {
    throw failure(grpc.status.INVALID_ARGUMENT, `unknown resource type ${token}`);
  }
  return type;
}

/** The provider's state and RPC handlers. */
export class RosterProvider {
  private config: ProviderConfig = {};
  private pool: pg.Pool | undefined;
  private leastPrivilege: Promise<LeastPrivilegePolicy | undefined> | undefined;
  /** The platform's language and brand of invitations, read from the environment once. */
  private localization: Promise<Localization> | undefined;

  /** Handlers keyed by RPC name, for `server.addService`. */
  handlers(): grpc.UntypedServiceImplementation {
    const unary =
      <Req>(fn: (request: Req) => Promise<unknown>) =>
      (call: Call<Req>, callback: Callback) => {
        fn(call.request).then(
          (response) => callback(null, response),
          (error: unknown) => callback(toServiceError(error)),
        );
      };
    return {
      getPluginInfo: unary(async () => new pluginPb.PluginInfo().setVersion(ROSTER_VERSION)),
      getSchema: unary(async () =>
        new providerPb.GetSchemaResponse().setSchema(JSON.stringify(pulumiSchema())),
      ),
      checkConfig: unary(async (request: providerPb.CheckRequest) =>
        new providerPb.CheckResponse().setInputs(request.getNews()),
      ),
      diffConfig: unary(async () =>
        new providerPb.DiffResponse().setChanges(providerPb.DiffResponse.DiffChanges.DIFF_UNKNOWN),
      ),
      configure: unary((request: providerPb.ConfigureRequest) => this.configure(request)),
      check: unary((request: providerPb.CheckRequest) => this.check(request)),
      diff: unary((request: providerPb.DiffRequest) => this.diff(request)),
      create: unary((request: providerPb.CreateRequest) => this.create(request)),
      read: unary((request: providerPb.ReadRequest) => this.read(request)),
      update: unary((request: providerPb.UpdateRequest) => this.update(request)),
      delete: unary((request: providerPb.DeleteRequest) => this.delete(request)),
      cancel: unary(async () => {
        this.cancelled.abort();
        return new emptyPb.Empty();
      }),
    };
  }

  /**
   * Applies one after another in this process. Once the engine cancels, what waits is refused and
   * the apply in progress is aborted (its statement cancelled on the server, its transaction rolled
   * back).
   */
  private queue: Promise<unknown> = Promise.resolve();
  private readonly cancelled = new AbortController();

  private serially<T>(urn: string, work: () => Promise<T>): Promise<T> {
    const run = async () => {
      if (this.cancelled.signal.aborted) {
        throw new RosterError('cancelled', `${urn}: the operation was cancelled before it started`);
      }
      return work();
    };
    const result = this.queue.then(run, run);
    this.queue = result.catch(() => undefined);
    return result;
  }

  /** Closes the database pool. */
  async close(): Promise<void> {
    await this.pool?.end();
  }

  private async configure(request: providerPb.ConfigureRequest) {
    const args = fromStruct(request.getArgs());
    const variables = request.getVariablesMap();
    const value = (key: string): string | undefined => {
      const fromArgs = args[key];
      if (typeof fromArgs === 'string' && fromArgs !== '' && fromArgs !== UNKNOWN) return fromArgs;
      const fromVariables = variables.get(`roster:config:${key}`) ?? variables.get(`roster:${key}`);
      return fromVariables === undefined || fromVariables === '' ? undefined : fromVariables;
    };
    this.config = {
      ...(value('databaseUrl') !== undefined && { databaseUrl: value('databaseUrl') }),
      ...(value('smtpUrl') !== undefined && { smtpUrl: value('smtpUrl') }),
      ...(value('publicUrl') !== undefined && { publicUrl: value('publicUrl') }),
      ...(value('mailFrom') !== undefined && { mailFrom: value('mailFrom') }),
    };
    return new providerPb.ConfigureResponse()
      .setAcceptsecrets(true)
      .setSupportspreview(true)
      .setAcceptresources(true);
  }

  private async database(): Promise<pg.Pool> {
    if (this.pool !== undefined) return this.pool;
    const url = this.config.databaseUrl ?? process.env.DATABASE_URL;
    if (url === undefined || url === '') {
      throw failure(
        grpc.status.FAILED_PRECONDITION,
        'roster:databaseUrl is not set: "pulumi config set --secret roster:databaseUrl postgresql://…" (or set DATABASE_URL)',
      );
    }
    const config = { application_name: 'pulumi-resource-roster', max: 4 };
    // A failover cluster's host list (target_session_attrs=read-write): its primary, found
    // again after a failover (docs/scale.md).
    const hosts = parseMultiHostUrl(url);
    let pool: pg.Pool;
    if (hosts === undefined) {
      pool = new pg.Pool({ connectionString: url, ...config });
    } else {
      const cluster = multiHostPool(hosts, config);
      await cluster.findHost();
      pool = cluster.pool;
    }
    pool.on('error', () => undefined);
    await migrate(pool);
    this.pool = pool;
    return pool;
  }

  /**
   * The least-privilege rules of `ROSTER_LINT_RULES` (read once), or Roster's own. An invalid
   * file fails every Check, naming its problems: rules silently ignored would pass what they
   * were written to stop.
   */
  private lintRules(): Promise<LeastPrivilegePolicy | undefined> {
    const path = process.env.ROSTER_LINT_RULES;
    if (path === undefined || path === '') return Promise.resolve(undefined);
    this.leastPrivilege ??= readLintRules(path, process.cwd()).then(({ policy, findings }) => {
      if (policy !== undefined) return policy;
      throw failure(
        grpc.status.FAILED_PRECONDITION,
        `the lint rules in ${path} (ROSTER_LINT_RULES) are invalid:\n${renderFindingsText(findings)}`,
      );
    });
    return this.leastPrivilege;
  }

  private async check(request: providerPb.CheckRequest) {
    const type = typeOf(request.getUrn());
    // Secret inputs stay secret: the engine stores what Check returns, in plain text unless marked.
    const secrets = new Set<string>();
    const { inputs, failures } = checkInputs(
      type,
      fromStruct(request.getNews(), secrets),
      new Date(),
      await this.lintRules(),
    );
    return new providerPb.CheckResponse()
      .setInputs(toStruct(inputs, secrets))
      .setFailuresList(
        failures.map((f) =>
          new providerPb.CheckFailure().setProperty(f.property).setReason(f.reason),
        ),
      );
  }

  private async diff(request: providerPb.DiffRequest) {
    const type = typeOf(request.getUrn());
    const olds = fromStruct(request.getOldInputs() ?? request.getOlds());
    const news = fromStruct(request.getNews());
    const oldInputs = Object.keys(olds).length > 0 ? olds : fromStruct(request.getOlds());
    const keys = new Set(
      [...Object.keys(oldInputs), ...Object.keys(news)].filter((k) => !(k in type.outputs)),
    );
    const ignored = new Set(request.getIgnorechangesList());
    const changed = [...keys].filter(
      (k) =>
        !ignored.has(k) &&
        (containsUnknown(news[k]) ||
          JSON.stringify(oldInputs[k] ?? null) !== JSON.stringify(news[k] ?? null)),
    );
    // A replacement creates the new record, then deletes the old one. When both have the same
    // identity (Bob@x.io -> bob@x.io, or a Role's scope), that delete would remove the record the
    // create just wrote: the change is made in place instead.
    const identityChanges =
      type.replaceOnChanges.some((k) => containsUnknown(news[k])) ||
      idOf(type, oldInputs) !== idOf(type, news);
    const replaces = identityChanges
      ? changed.filter((k) => type.replaceOnChanges.includes(k))
      : [];
    const response = new providerPb.DiffResponse()
      .setChanges(
        changed.length > 0
          ? providerPb.DiffResponse.DiffChanges.DIFF_SOME
          : providerPb.DiffResponse.DiffChanges.DIFF_NONE,
      )
      .setDiffsList(changed)
      .setReplacesList(replaces)
      .setHasdetaileddiff(true)
      .setDeletebeforereplace(false);
    const detailed = response.getDetaileddiffMap();
    const Kind = providerPb.PropertyDiff.Kind;
    for (const key of changed) {
      const replace = replaces.includes(key);
      const kind = !(key in oldInputs)
        ? replace
          ? Kind.ADD_REPLACE
          : Kind.ADD
        : !(key in news)
          ? replace
            ? Kind.DELETE_REPLACE
            : Kind.DELETE
          : replace
            ? Kind.UPDATE_REPLACE
            : Kind.UPDATE;
      detailed.set(key, new providerPb.PropertyDiff().setKind(kind).setInputdiff(true));
    }
    return response;
  }

  private planOptions(urn: string, type: ResourceType, inputs: Properties): PlanOptions {
    const org = orgOf(type, inputs);
    return {
      manager: managerOf(urn),
      prune: false,
      maxOrgRemovalRatio: DEFAULT_MAX_ORG_REMOVAL_RATIO,
      now: new Date(),
      scope: org === null ? 'all' : [org],
    };
  }

  /**
   * Applies records and removals for one resource, then delivers the invitations it queued. The
   * engine runs sibling resources' operations in parallel; applies are serialised in this process
   * (one at a time, in arrival order) and wait for the database's apply lock (held by another
   * stack, the CLI or the operator) for the operation's timeout, or five minutes.
   */
  private async applyResource(
    urn: string,
    type: ResourceType,
    inputs: Properties,
    records: ReturnType<typeof recordsOf>,
    removals: RecordId[],
    timeoutSeconds = 0,
  ) {
    const pool = await this.database();
    const lockWaitMs = timeoutSeconds > 0 ? timeoutSeconds * 1000 : 5 * 60_000;
    const result = await this.serially(urn, () =>
      applyChanges(
        pool,
        { records, removals, resolveAliases: true, options: this.planOptions(urn, type, inputs) },
        { actor: managerOf(urn), source: { urn }, lockWaitMs, signal: this.cancelled.signal },
      ),
    );
    if (result.plan.invitations.length > 0) {
      const transport =
        this.config.smtpUrl !== undefined
          ? smtpTransport(this.config.smtpUrl)
          : transportFromEnv(process.env, process.cwd());
      try {
        await deliverOutbox(pool, {
          transport,
          publicUrl:
            this.config.publicUrl ?? process.env.ROSTER_PUBLIC_URL ?? 'http://localhost:8080',
          from: this.config.mailFrom ?? process.env.ROSTER_MAIL_FROM ?? 'Roster <roster@localhost>',
          // The platform's language and brand (ROSTER_LOCALE, ROSTER_PRODUCT_NAME...).
          ...(await (this.localization ??= localizationFrom(process.env, process.cwd()))),
        });
      } finally {
        transport.close();
      }
    }
  }

  /** Outputs Roster computes: the member's status and invitation state. */
  private async outputsOf(type: ResourceType, inputs: Properties): Promise<Properties> {
    if (type.kind !== 'Membership' && type.kind !== 'Grant') return {};
    const pool = await this.database();
    const resource = type.kind === 'Grant' ? String(inputs.resource) : null;
    const facts = await memberFacts(
      pool,
      String(inputs.org),
      emailIdentity(String(inputs.user ?? '')),
    );
    const row = facts.find((f) => f.subject === type.kind.toLowerCase() && f.resource === resource);
    return {
      status: row?.status ?? '',
      invitationState: row?.invitation ?? '',
      ...(type.kind === 'Membership' && { joinedAt: row?.joinedAt?.toISOString() ?? '' }),
    };
  }
  private async create(request: providerPb.CreateRequest) {
    const type = typeOf(request.getUrn());
    const secrets = new Set<string>();
    const inputs = fromStruct(request.getProperties(), secrets);
    if (request.getPreview()) {
      const outputs = Object.fromEntries(Object.keys(type.outputs).map((k) => [k, UNKNOWN]));
      return new providerPb.CreateResponse()
        .setId('')
        .setProperties(toStruct({ ...inputs, ...outputs }, secrets));
    }
    await this.applyResource(
      request.getUrn(),
      type,
      inputs,
      recordsOf(type, inputs),
      [],
      request.getTimeout(),
    );
    const outputs = await this.outputsOf(type, inputs);
    return new providerPb.CreateResponse()
      .setId(idOf(type, inputs))
      .setProperties(toStruct({ ...inputs, ...outputs }, secrets));
  }

  private async update(request: providerPb.UpdateRequest) {
    const type = typeOf(request.getUrn());
    const secrets = new Set<string>();
    const news = fromStruct(request.getNews(), secrets);
    const olds = fromStruct(request.getOldInputs() ?? request.getOlds());
    if (request.getPreview()) {
      const outputs = Object.fromEntries(Object.keys(type.outputs).map((k) => [k, UNKNOWN]));
      return new providerPb.UpdateResponse().setProperties(
        toStruct({ ...news, ...outputs }, secrets),
      );
    }
    const records = recordsOf(type, news);
    const kept = new Set(records.map((r) => JSON.stringify(r.id)));
    const removals =
      type.kind === 'Organization'
        ? recordsOf(type, olds)
            .filter((r) => r.id.kind === 'resource' && !kept.has(JSON.stringify(r.id)))
            .map((r) => r.id)
        : [];
    await this.applyResource(request.getUrn(), type, news, records, removals, request.getTimeout());
    const outputs = await this.outputsOf(type, news);
    return new providerPb.UpdateResponse().setProperties(
      toStruct({ ...news, ...outputs }, secrets),
    );
  }

  private async delete(request: providerPb.DeleteRequest) {
    const type = typeOf(request.getUrn());
    const olds = fromStruct(request.getOldInputs() ?? request.getProperties());
    const inputs = Object.keys(olds).length > 0 ? olds : fromStruct(request.getProperties());
    await this.applyResource(
      request.getUrn(),
      type,
      inputs,
      [],
      recordsOf(type, inputs).map((r) => r.id),
      request.getTimeout(),
    );
    return new emptyPb.Empty();
  }

  private async read(request: providerPb.ReadRequest) {
    const type = typeOf(request.getUrn());
    const id = request.getId();
    const secrets = new Set<string>();
    const stateInputs = fromStruct(request.getInputs(), secrets);
    const program =
      Object.keys(stateInputs).length > 0
        ? stateInputs
        : fromStruct(request.getProperties(), secrets);
    const identity = Object.keys(program).length > 0 ? program : inputsFromId(type, id);
    const pool = await this.database();
    const client = await pool.connect();
    let inputs: Properties | undefined;
    try {
      const org = orgOf(type, identity);
      const snapshot = await readSnapshot(client, org === null ? 'all' : [org]);
      // A member named by an alias is their person's record; the program's spelling stays.
      const named = mainRecordId(type, identity);
      const id = resolvePerson(named, personByAlias(snapshot));
      inputs = inputsFromActual(type, id, snapshot);
      if (inputs !== undefined && id !== named) inputs = { ...inputs, user: identity.user };
    } finally {
      client.release();
    }
    if (inputs === undefined) return new providerPb.ReadResponse().setId('');
    const spelled = preferProgramSpelling(inputs, program);
    const outputs = await this.outputsOf(type, spelled);
    return new providerPb.ReadResponse()
      .setId(idOf(type, spelled))
      .setInputs(toStruct(spelled, secrets))
      .setProperties(toStruct({ ...spelled, ...outputs }, secrets));
  }
}

function toServiceError(error: unknown): grpc.ServiceError {
  if (
    typeof error === 'object' &&
    error !== null &&
    'code' in error &&
    typeof (error as { code: unknown }).code === 'number'
  ) {
    return error as grpc.ServiceError;
  }
  if (error instanceof RosterError) return failure(grpc.status.FAILED_PRECONDITION, error.message);
  return failure(grpc.status.UNKNOWN, error instanceof Error ? error.message : String(error));
}

/** Serves the provider on 127.0.0.1; resolves with the port. */
export async function serveProvider(
  provider: RosterProvider,
  port = 0,
): Promise<{ server: grpc.Server; port: number }> {
  const server = new grpc.Server({ 'grpc.max_receive_message_length': 400 * 1024 * 1024 });
  server.addService(providerGrpc.ResourceProviderService, provider.handlers());
  const bound = await new Promise<number>((resolve, reject) =>
    server.bindAsync(
      `127.0.0.1:${port}`,
      grpc.ServerCredentials.createInsecure(),
      (error, actual) => (error ? reject(error) : resolve(actual)),
    ),
  );
  return { server, port: bound };
}
