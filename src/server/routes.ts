/**
 * The JSON Schemas of the access API's routes: their parameters (validated by Fastify's ajv
 * before a handler runs) and their responses (validated by ajv before they are sent, see
 * server.ts). The OpenAPI document at /api/openapi.json is generated from these by
 * @fastify/swagger: nothing here is written twice.
 */
import { ACCESS_REASONS } from '../core/access.js';
import { AUDIT_ACTIONS } from '../store/views.js';
import { CONTACT_CATEGORIES } from '../core/catalog.js';

/** Query and path text: any characters but bounded (control characters answer 400 in server.ts). */
const text = (maxLength: number, description?: string) => ({
  type: 'string',
  minLength: 1,
  maxLength,
  ...(description !== undefined && { description }),
});
const address = (description: string) => text(320, description);

const error = {
  type: 'object',
  required: ['error'],
  properties: { error: { type: 'string' } },
  additionalProperties: false,
} as const;
const failure = (description: string) => ({ description, ...error });

/** The answers every authenticated route may give besides its own. */
const FAILURES = {
  400: failure('A parameter is missing or malformed, or holds a control character.'),
  401: failure('No valid API key (unknown, revoked or expired).'),
  403: failure(
    "The organization is outside the API key's scope (whether it exists or not); on the switch-account list, organizations outside the scope are left out instead.",
  ),
  429: {
    ...failure('Too many requests with this API key: retry after Retry-After seconds.'),
    headers: { 'retry-after': { type: 'integer' } },
  },
  503: {
    ...failure(
      'The access database is down, or no connection freed in time: retry after Retry-After seconds.',
    ),
    headers: { 'retry-after': { type: 'integer' } },
  },
} as const;
const notFound = { 404: failure('No such organization.') } as const;

const paging = {
  limit: {
    type: 'integer',
    minimum: 1,
    maximum: 1000,
    default: 100,
    description: 'Entries per page.',
  },
  after: text(1000, 'The `next` cursor of the previous page.'),
} as const;

const api = { security: [{ bearer: [] }] } as const;

const nullable = (type: string) => ({ type: [type, 'null'] });

export const CHECK_SCHEMA = {
  ...api,
  summary: 'May a user do something in an organization, or on one of its resources?',
  querystring: {
    type: 'object',
    required: ['user', 'permission', 'org'],
    properties: {
      user: address('The person, by any of their addresses.'),
      permission: text(200, 'A permission such as billing.view or resource.deploy.'),
      org: text(253),
      resource: text(200, 'TYPE/NAME of a resource of the organization, such as site/shop.'),
      actingAs: address(
        "Check `user` acting for this member under a Delegation: allowed (reason delegation) only within its dates, its permissions and the member's own. Every such check is written to the audit log (action act-as) before it is answered, and never answered from memory.",
      ),
    },
  },
  response: {
    200: {
      description: 'The decision and its reason.',
      type: 'object',
      required: ['allowed', 'reason'],
      additionalProperties: false,
      properties: {
        allowed: { type: 'boolean' },
        reason: { type: 'string', enum: ACCESS_REASONS },
        role: { type: 'string' },
        group: {
          type: 'string',
          description: 'The group that gave the role (reason group), or was considered.',
        },
        actingAs: { type: 'string', description: 'The member acted for (actingAs).' },
        delegation: {
          type: 'string',
          description: 'The delegation that allowed it, or was considered.',
        },
      },
    },
    ...FAILURES,
  },
} as const;

export const ORGANIZATIONS_OF_USER_SCHEMA = {
  ...api,
  summary: 'The organizations a user can switch to.',
  params: {
    type: 'object',
    required: ['email'],
    properties: { email: address('The person, by any of their addresses.') },
  },
  response: {
    200: {
      description:
        'Active memberships, organizations where the user is active in a group, and those where they hold an active grant.',
      type: 'object',
      required: ['organizations'],
      additionalProperties: false,
      properties: {
        organizations: {
          type: 'array',
          items: {
            type: 'object',
            required: ['org', 'displayName', 'via', 'role', 'resources'],
            additionalProperties: false,
            properties: {
              org: { type: 'string' },
              displayName: nullable('string'),
              via: { type: 'string', enum: ['membership', 'group', 'grant'] },
              role: nullable('string'),
              resources: {
                type: 'array',
                items: {
                  type: 'object',
                  required: ['resource', 'role'],
                  additionalProperties: false,
                  properties: { resource: { type: 'string' }, role: { type: 'string' } },
                },
              },
              groups: {
                type: 'array',
                items: {
                  type: 'object',
                  required: ['group', 'role'],
                  additionalProperties: false,
                  properties: { group: { type: 'string' }, role: nullable('string') },
                },
              },
            },
          },
        },
      },
    },
    ...FAILURES,
  },
} as const;

const orgParams = {
  type: 'object',
  required: ['org'],
  properties: { org: text(253) },
} as const;

export const CONTACTS_SCHEMA = {
  ...api,
  summary: 'Who gets the mail of an organization, e.g. its billing mail.',
  description:
    'The contacts covering the category (every contact without one). When no contact covers it, the owner, with `via: "owner"`: the owner receives what no contact was named for.',
  params: orgParams,
  querystring: {
    type: 'object',
    properties: { category: { type: 'string', enum: CONTACT_CATEGORIES } },
  },
  response: {
    200: {
      description: 'The contacts, or the owner for want of one.',
      type: 'object',
      required: ['contacts'],
      additionalProperties: false,
      properties: {
        contacts: {
          type: 'array',
          items: {
            type: 'object',
            required: ['email', 'name', 'categories', 'via'],
            additionalProperties: false,
            properties: {
              email: { type: 'string' },
              name: nullable('string'),
              categories: { type: 'array', items: { type: 'string', enum: CONTACT_CATEGORIES } },
              via: { type: 'string', enum: ['contact', 'owner'] },
            },
          },
        },
      },
    },
    ...FAILURES,
    ...notFound,
  },
} as const;

const change = {
  type: 'object',
  required: ['at', 'action', 'actor'],
  additionalProperties: false,
  properties: {
    at: { type: 'string', format: 'date-time' },
    action: { type: 'string' },
    actor: { type: 'string' },
    source: { type: ['object', 'null'], additionalProperties: true },
  },
} as const;

export const MEMBERS_SCHEMA = {
  ...api,
  summary: 'The members of an organization: status, joined, invited by, last change.',
  params: orgParams,
  querystring: { type: 'object', properties: paging },
  response: {
    200: {
      description: 'A page of members, by address; `next` is the cursor of the next page.',
      type: 'object',
      required: ['members', 'next'],
      additionalProperties: false,
      properties: {
        members: {
          type: 'array',
          items: {
            type: 'object',
            required: [
              'user',
              'role',
              'seat',
              'status',
              'joinedAt',
              'invitedBy',
              'managedBy',
              'lastChange',
            ],
            additionalProperties: false,
            properties: {
              user: { type: 'string' },
              role: { type: 'string' },
              seat: { type: 'string', enum: ['paid', 'free'] },
              status: { type: 'string', enum: ['invited', 'active', 'suspended'] },
              joinedAt: { type: ['string', 'null'], format: 'date-time' },
              invitedBy: nullable('string'),
              managedBy: nullable('string'),
              lastChange: { anyOf: [change, { type: 'null' }] },
            },
          },
        },
        next: nullable('string'),
      },
    },
    ...FAILURES,
    ...notFound,
  },
} as const;

export const AUDIT_SCHEMA = {
  ...api,
  summary: 'Who changed what, when and from where, newest first.',
  description:
    'Changes applied (their actor and source), delegated access checks (act-as), invitations and API keys. A key scoped to organizations reads their entries only.',
  querystring: {
    type: 'object',
    properties: {
      org: text(253),
      user: address('Entries about this person.'),
      since: text(40, 'A date (2027-06-30) or an RFC 3339 time.'),
      until: text(40, 'A date (2027-06-30) or an RFC 3339 time.'),
      ...paging,
    },
  },
  response: {
    200: {
      description: 'A page of entries; `next` is the cursor of the next page.',
      type: 'object',
      required: ['entries', 'next'],
      additionalProperties: false,
      properties: {
        entries: {
          type: 'array',
          items: {
            type: 'object',
            required: ['id', 'at', 'org', 'actor', 'action', 'record', 'key'],
            additionalProperties: false,
            properties: {
              id: { type: 'string' },
              at: { type: 'string', format: 'date-time' },
              org: nullable('string'),
              actor: { type: 'string' },
              action: { type: 'string', enum: AUDIT_ACTIONS },
              record: { type: 'string' },
              key: { type: 'object', additionalProperties: true },
              before: {},
              after: {},
              source: { type: ['object', 'null'], additionalProperties: true },
            },
          },
        },
        next: nullable('string'),
      },
    },
    ...FAILURES,
  },
} as const;

/** What @fastify/swagger puts around the routes. */
export const OPENAPI_INFO = {
  openapi: '3.1.0',
  info: {
    title: 'Roster access API',
    description:
      'Who may do what: the organizations a user can switch to, access checks with their reason, the contacts and members of an organization, and the audit log.',
  },
  components: {
    securitySchemes: {
      bearer: {
        type: 'http',
        scheme: 'bearer',
        description: 'A key made by "roster api-keys create NAME".',
      },
    },
  },
} as const;
