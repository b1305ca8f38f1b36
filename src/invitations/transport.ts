/**
 * Where invitation e-mails go: an SMTP server (`SMTP_URL`), or `.eml` files under
 * `.roster/outbox/` as the embedded default. Both build the same RFC 5322 message with nodemailer.
 */
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import nodemailer from 'nodemailer';

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
  send(mail: OutgoingMail): Promise<void>;
  close(): void;
}

const messageId = (key: string) => `<${key.replace(/[^A-Za-z0-9.-]/g, '.')}@roster.invalid>`;

/** SMTP through nodemailer, e.g. `smtp://user:pass@mail.example.com:587`. */
export function smtpTransport(url: string): MailTransport {
  const transporter = nodemailer.createTransport(url, {
    connectionTimeout: 10_000,
    greetingTimeout: 10_000,
    socketTimeout: 30_000,
  } as object);
  const parsed = new URL(url);
  return {
    description: `SMTP ${parsed.hostname}:${parsed.port || '(default port)'}`,
    async send(mail) {
      await transporter.sendMail({ ...mail, messageId: messageId(mail.idempotencyKey) });
    },
    close: () => transporter.close(),
  };
}

/** `.eml` files, one per send, named after the idempotency key (a retry overwrites, never duplicates). */
export function fileTransport(directory: string): MailTransport {
  const transporter = nodemailer.createTransport({
    streamTransport: true,
    buffer: true,
    newline: 'unix',
  });
  return {
    description: `files in ${directory}`,
    async send(mail) {
      const info = (await transporter.sendMail({
        ...mail,
        messageId: messageId(mail.idempotencyKey),
      })) as {
        message: Buffer;
      };
      await mkdir(directory, { recursive: true, mode: 0o700 });
      const name = `${mail.idempotencyKey.replace(/[^A-Za-z0-9.-]/g, '-')}.eml`;
      const temporary = join(directory, `.${name}.tmp`);
      await writeFile(temporary, info.message, { mode: 0o600 });
      await rename(temporary, join(directory, name));
    },
    close: () => undefined,
  };
}

/** The transport the environment asks for. */
export function transportFromEnv(env: NodeJS.ProcessEnv, cwd: string): MailTransport {
  const url = env.SMTP_URL;
  return url !== undefined && url !== ''
    ? smtpTransport(url)
    : fileTransport(join(cwd, '.roster', 'outbox'));
}
