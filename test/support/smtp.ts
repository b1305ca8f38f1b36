/** A real SMTP server on loopback (smtp-server) that captures what it receives. */
import { simpleParser, type ParsedMail } from 'mailparser';
import { SMTPServer } from 'smtp-server';

/** A captured SMTP server. */
export interface CapturingSmtp {
  readonly port: number;
  readonly url: string;
  readonly messages: ParsedMail[];
  /** While true, every recipient is refused with a temporary failure (451). */
  refuse: boolean;
  close(): Promise<void>;
}

/** Starts a server on `port` (0: any free port). */
export async function startSmtp(
  port = 0,
  options: {
    /** Hold each message this long after receiving (and recording) it, before answering 250. */
    acceptDelayMs?: number;
  } = {},
): Promise<CapturingSmtp> {
  const messages: ParsedMail[] = [];
  const state = { refuse: false };
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    onRcptTo(_address, _session, callback) {
      if (state.refuse) {
        callback(Object.assign(new Error('mailbox busy, try again later'), { responseCode: 451 }));
      } else {
        callback();
      }
    },
    onData(stream, _session, callback) {
      simpleParser(stream)
        .then((mail) => {
          messages.push(mail);
          if (options.acceptDelayMs === undefined) callback();
          else setTimeout(() => callback(), options.acceptDelayMs);
        })
        .catch(callback);
    },
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  const address = server.server.address();
  const actual = typeof address === 'object' && address !== null ? address.port : port;
  return {
    port: actual,
    url: `smtp://127.0.0.1:${actual}`,
    messages,
    get refuse() {
      return state.refuse;
    },
    set refuse(value: boolean) {
      state.refuse = value;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** The accept link of a captured invitation e-mail. */
export function linkOf(mail: ParsedMail): string {
  const link = /https?:\/\/\S+\/invitations\/[A-Za-z0-9_-]{43}/.exec(mail.text ?? '')?.[0];
  if (link === undefined) throw new Error(`no invitation link in: ${mail.text}`);
  return link;
}

/** The recipient of a captured e-mail. */
export function recipientOf(mail: ParsedMail): string {
  const to = Array.isArray(mail.to) ? mail.to[0] : mail.to;
  return to?.value[0]?.address ?? '';
}
