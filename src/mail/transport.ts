/**
 * Where invitation e-mails go: an SMTP server (`SMTP_URL`), or `.eml` files under
 * `.roster/outbox/` as the embedded default. Both build the same RFC 5322 message with nodemailer.
 */
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import nodemailer from 'nodemailer';
import { envNumber } from '../core/env-number.js';

/** One e-mail to send. */
export interface OutgoingMail {
  readonly from: string;
  readonly to: string;
  readonly subject: string;
  readonly text: string;
  readonly html: string;
  /** Stable per invitation send: a retry of the same send reuses it, so copies can be told apart. */
  readonly idempotencyKey: string;
}

/** Sends mail; throws when the mail was not accepted. */
export interface MailTransport {
  readonly description: string;
  /** Sends at once, at most this many (more calls wait for a free connection). */
  readonly concurrency: number;
  /** Resolves once the server accepted the message; rejects (AbortError) when `signal` aborts first. */
  send(mail: OutgoingMail, signal?: AbortSignal): Promise<void>;
  close(): void;
}

/** Timeouts and pool size of an SMTP transport. */
export interface SmtpSettings {
  /** Opening the TCP (or TLS) connection (default 10 s). */
  readonly connectionTimeoutMs?: number;
  /** The server's greeting after connecting (default 10 s). */
  readonly greetingTimeoutMs?: number;
  /** Inactivity on an open connection (default 30 s). */
  readonly socketTimeoutMs?: number;
  /** Pooled connections, and so sends at once (default 4). */
  readonly maxConnections?: number;
}

const messageId = (key: string) => `<${key.replace(/[^A-Za-z0-9.-]/g, '.')}@roster.invalid>`;

/**
 * SMTP through nodemailer's pool, e.g. `smtp://user:pass@mail.example.com:587`. The timeouts are
 * transport options: nodemailer's second `createTransport` argument holds message defaults, where a
 * timeout has no effect.
 */
export function smtpTransport(url: string, settings: SmtpSettings = {}): MailTransport {
  const maxConnections = settings.maxConnections ?? 4;
  const transporter = nodemailer.createTransport({
    url,
    pool: true,
    maxConnections,
    maxMessages: 100,
    connectionTimeout: settings.connectionTimeoutMs ?? 10_000,
    greetingTimeout: settings.greetingTimeoutMs ?? 10_000,
    socketTimeout: settings.socketTimeoutMs ?? 30_000,
  });
  const parsed = new URL(url);
  return {
    description: `SMTP ${parsed.hostname}:${parsed.port || '(default port)'}`,
    concurrency: maxConnections,
    async send(mail, signal) {
      await transporter.sendMail({
        ...mail,
        messageId: messageId(mail.idempotencyKey),
        ...(signal !== undefined && { signal }),
      });
    },
    close: () => transporter.close(),
  };
}

/**
 * `.eml` files, one per send, named after the idempotency key (a retry overwrites, never
 * duplicates). The text part is written unencoded (8bit) so that the accept link stays on one line
 * and can be copied from the file; quoted-printable would wrap it at 76 characters.
 */
export function fileTransport(directory: string): MailTransport {
  const transporter = nodemailer.createTransport({
    streamTransport: true,
    buffer: true,
    newline: 'unix',
  });
  // Made once, not per message: a directory that exists already costs a system call each time.
  let ready: Promise<unknown> | undefined;
  return {
    description: `files in ${directory}`,
    concurrency: 8,
    async send(mail) {
      const info = (await transporter.sendMail({
        ...mail,
        // nodemailer picks quoted-printable for any text with a line over 76 characters; a raw
        // part keeps the text as written (lines stay far below the 998 octets RFC 5322 allows).
        text: {
          raw: `Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n${mail.text.replace(/\r?\n/g, '\r\n')}`,
        },
        messageId: messageId(mail.idempotencyKey),
      })) as {
        message: Buffer;
      };
      ready ??= mkdir(directory, { recursive: true, mode: 0o700 }).catch((error: unknown) => {
        ready = undefined;
        throw error;
      });
      await ready;
      const name = `${mail.idempotencyKey.replace(/[^A-Za-z0-9.-]/g, '-')}.eml`;
      const temporary = join(directory, `.${name}.tmp`);
      await writeFile(temporary, info.message, { mode: 0o600 });
      await rename(temporary, join(directory, name));
    },
    close: () => undefined,
  };
}

/** The transport the environment asks for: SMTP_URL (with ROSTER_SMTP_* settings) or files. */
export function transportFromEnv(env: NodeJS.ProcessEnv, cwd: string): MailTransport {
  const url = env.SMTP_URL;
  if (url === undefined || url === '') return fileTransport(join(cwd, '.roster', 'outbox'));
  const number = (name: string) => envNumber(env, name, (n) => n > 0);
  const connectionTimeoutMs = number('ROSTER_SMTP_CONNECTION_TIMEOUT_MS');
  const greetingTimeoutMs = number('ROSTER_SMTP_GREETING_TIMEOUT_MS');
  const socketTimeoutMs = number('ROSTER_SMTP_SOCKET_TIMEOUT_MS');
  const maxConnections = number('ROSTER_SMTP_MAX_CONNECTIONS');
  return smtpTransport(url, {
    ...(connectionTimeoutMs !== undefined && { connectionTimeoutMs }),
    ...(greetingTimeoutMs !== undefined && { greetingTimeoutMs }),
    ...(socketTimeoutMs !== undefined && { socketTimeoutMs }),
    ...(maxConnections !== undefined && { maxConnections: Math.floor(maxConnections) }),
  });
}
