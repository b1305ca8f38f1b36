/** The OpenAPI 3.1 document of the access API, served at /api/openapi.json. */
import { ACCESS_REASONS } from '../core/access.js';
import { ROSTER_VERSION } from '../version.js';

const error = { $ref: '#/components/schemas/Error' };
const json = (schema: object) => ({ content: { 'application/json': { schema } } });
const badPath = {
  description: 'A malformed percent-escape or a control character in the path or a parameter.',
  ...json(error),
};
const outOfScope = {
  description:
    "The organization is outside the API key's scope (whether it exists or not); on the switch-account list, organizations outside the scope are left out instead.",
  ...json(error),
};
const paging = [
  {
    name: 'limit',
    in: 'query',
    required: false,
    schema: { type: 'integer', minimum: 1, maximum: 1000, default: 100 },
  },
  {
    name: 'after',
    in: 'query',
    required: false,
    description: 'The `next` cursor of the previous page.',
    schema: { type: 'string' },
  },
] as const;
const unavailable = {
  description:
    'The access database is down, or no connection freed in time: retry after the number of seconds in Retry-After.',
  headers: { 'Retry-After': { schema: { type: 'integer' } } },
  ...json(error),
};

/** The document. */
export const OPENAPI_DOCUMENT = {
  openapi: '3.1.0',
  info: {
    title: 'Roster access API',
    version: ROSTER_VERSION,
    description:
      'Who may do what: the organizations a user can switch to, access checks with their reason, and the contacts of an organization.',
  },
  security: [{ bearer: [] }],
  paths: {
    '/api/v1/check': {
      get: {
        summary: 'May a user do something in an organization, or on one of its resources?',
        parameters: [
          {
            name: 'user',
            in: 'query',
            required: true,
            schema: { type: 'string', format: 'email' },
          },
          {
            name: 'permission',
            in: 'query',
            required: true,
            schema: { type: 'string', examples: ['billing.view', 'resource.deploy'] },
          },
          { name: 'org', in: 'query', required: true, schema: { type: 'string' } },
          {
            name: 'resource',
            in: 'query',
            required: false,
            schema: { type: 'string', examples: ['site/shop'] },
          },
          {
            name: 'actingAs',
            in: 'query',
            required: false,
            description:
              "Check `user` acting for this member under a Delegation: allowed (reason delegation) only within its expiry, its permissions and the member's own. Every such check is written to the audit log (action act-as) before it is answered, and never answered from memory.",
            schema: { type: 'string', format: 'email' },
          },
        ],
        responses: {
          '200': {
            description: 'The decision and its reason.',
            ...json({
              type: 'object',
              required: ['allowed', 'reason'],
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
            }),
          },
          '400': {
            description: 'A parameter is missing, or holds a control character.',
            ...json(error),
          },
          '401': { description: 'No valid API key (unknown, revoked or expired).', ...json(error) },
          '403': outOfScope,
          '503': unavailable,
        },
      },
    },
    '/api/v1/users/{email}/organizations': {
      get: {
        summary: 'The organizations a user can switch to.',
        parameters: [
          {
            name: 'email',
            in: 'path',
            required: true,
            schema: { type: 'string', format: 'email' },
          },
        ],
        responses: {
          '200': {
            description:
              'Active memberships, organizations where the user is active in a group, and those where they hold an active grant.',
            ...json({
              type: 'object',
              properties: {
                organizations: {
                  type: 'array',
                  items: {
                    type: 'object',
                    properties: {
                      org: { type: 'string' },
                      displayName: { type: ['string', 'null'] },
                      via: { type: 'string', enum: ['membership', 'group', 'grant'] },
                      role: { type: ['string', 'null'] },
                      resources: {
                        type: 'array',
                        items: {
                          type: 'object',
                          properties: { resource: { type: 'string' }, role: { type: 'string' } },
                        },
                      },
                      groups: {
                        type: 'array',
                        items: {
                          type: 'object',
                          properties: {
                            group: { type: 'string' },
                            role: { type: ['string', 'null'] },
                          },
                        },
                      },
                    },
                  },
                },
              },
            }),
          },
          '400': badPath,
          '401': { description: 'No valid API key (unknown, revoked or expired).', ...json(error) },
          '403': outOfScope,
          '503': unavailable,
        },
      },
    },
    '/api/v1/organizations/{org}/contacts': {
      get: {
        summary: 'Who gets the mail of an organization, e.g. its billing mail.',
        description:
          'The contacts covering the category (every contact without one). When no contact covers it, the owner, with `via: "owner"`: the owner receives what no contact was named for.',
        parameters: [
          { name: 'org', in: 'path', required: true, schema: { type: 'string' } },
          {
            name: 'category',
            in: 'query',
            required: false,
            schema: {
              type: 'string',
              enum: ['general', 'billing', 'support', 'products', 'domains'],
            },
          },
        ],
        responses: {
          '200': {
            description: 'The contacts, or the owner for want of one.',
            ...json({
              type: 'object',
              properties: {
                contacts: {
                  type: 'array',
                  items: {
                    type: 'object',
                    properties: {
                      email: { type: 'string' },
                      name: { type: ['string', 'null'] },
                      categories: { type: 'array', items: { type: 'string' } },
                      via: { type: 'string', enum: ['contact', 'owner'] },
                    },
                    required: ['email', 'name', 'categories', 'via'],
                  },
                },
              },
            }),
          },
          '400': badPath,
          '401': { description: 'No valid API key (unknown, revoked or expired).', ...json(error) },
          '403': outOfScope,
          '404': { description: 'No such organization.', ...json(error) },
          '503': unavailable,
        },
      },
    },
    '/api/v1/organizations/{org}/members': {
      get: {
        summary: 'The members of an organization: status, joined, invited by, last change.',
        parameters: [
          { name: 'org', in: 'path', required: true, schema: { type: 'string' } },
          ...paging,
        ],
        responses: {
          '200': {
            description: 'A page of members, by address; `next` is the cursor of the next page.',
            ...json({
              type: 'object',
              required: ['members', 'next'],
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
                    properties: {
                      user: { type: 'string' },
                      role: { type: 'string' },
                      seat: { type: 'string', enum: ['paid', 'free'] },
                      status: { type: 'string', enum: ['invited', 'active', 'suspended'] },
                      joinedAt: { type: ['string', 'null'], format: 'date-time' },
                      invitedBy: { type: ['string', 'null'] },
                      managedBy: { type: ['string', 'null'] },
                      lastChange: {
                        type: ['object', 'null'],
                        properties: {
                          at: { type: 'string', format: 'date-time' },
                          action: { type: 'string' },
                          actor: { type: 'string' },
                          source: { type: ['object', 'null'] },
                        },
                      },
                    },
                  },
                },
                next: { type: ['string', 'null'] },
              },
            }),
          },
          '400': badPath,
          '401': { description: 'No valid API key (unknown, revoked or expired).', ...json(error) },
          '403': outOfScope,
          '404': { description: 'No such organization.', ...json(error) },
          '503': unavailable,
        },
      },
    },
    '/api/v1/audit': {
      get: {
        summary: 'Who changed what, when and from where, newest first.',
        description:
          'Changes applied (their actor and source) and delegated access checks (act-as). A key scoped to organizations reads their entries only.',
        parameters: [
          { name: 'org', in: 'query', required: false, schema: { type: 'string' } },
          {
            name: 'user',
            in: 'query',
            required: false,
            description: 'Entries about this person.',
            schema: { type: 'string', format: 'email' },
          },
          { name: 'since', in: 'query', required: false, schema: { type: 'string' } },
          { name: 'until', in: 'query', required: false, schema: { type: 'string' } },
          ...paging,
        ],
        responses: {
          '200': {
            description: 'A page of entries; `next` is the cursor of the next page.',
            ...json({
              type: 'object',
              required: ['entries', 'next'],
              properties: {
                entries: {
                  type: 'array',
                  items: {
                    type: 'object',
                    required: ['id', 'at', 'org', 'actor', 'action', 'record', 'key'],
                    properties: {
                      id: { type: 'string' },
                      at: { type: 'string', format: 'date-time' },
                      org: { type: ['string', 'null'] },
                      actor: { type: 'string' },
                      action: { type: 'string', enum: ['create', 'update', 'delete', 'act-as'] },
                      record: { type: 'string' },
                      key: { type: 'object' },
                      before: {},
                      after: {},
                      source: { type: ['object', 'null'] },
                    },
                  },
                },
                next: { type: ['string', 'null'] },
              },
            }),
          },
          '400': { description: 'A parameter is malformed.', ...json(error) },
          '401': { description: 'No valid API key (unknown, revoked or expired).', ...json(error) },
          '403': outOfScope,
          '503': unavailable,
        },
      },
    },
  },
  components: {
    securitySchemes: {
      bearer: {
        type: 'http',
        scheme: 'bearer',
        description: 'A key made by "roster api-keys create NAME".',
      },
    },
    schemas: {
      Error: { type: 'object', required: ['error'], properties: { error: { type: 'string' } } },
    },
  },
} as const;
