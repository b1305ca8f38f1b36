/**
 * What invitations say, in each language: the e-mail (text and HTML) and the invitation pages.
 * English and French are built in; a platform adds languages or rewords messages with catalogue
 * files (`kind: Messages`, read by src/files/messages.ts), checked against the English one: a
 * key it does not know, or a placeholder its English message does not have, is an error.
 *
 * Messages are plain text with `{placeholders}`. In HTML, the text and every value are escaped;
 * values marked `strong` are wrapped in <strong>. Dates are written in the chosen locale and
 * the organization's time zone. Pure.
 */

/** The English catalogue: every key there is, and the placeholders each may use. */
export const ENGLISH = {
  'mail.subject.organization': 'Invitation to join {org}',
  'mail.subject.resource': 'Invitation to {resource} of {org}',
  'mail.hello': 'Hello,',
  'mail.invited': 'You are invited {what}.',
  'mail.invitedBy': '{inviter} invites you {what}.',
  'mail.what.organization': 'to join {org} as {role}',
  'mail.what.group': 'to join {org} in the group {group}',
  'mail.what.groupRole': 'to join {org} in the group {group} as {role}',
  'mail.what.resource': 'to work on {resource} of {org} as {role}',
  'mail.open': 'Open this link to accept the invitation:',
  'mail.button': 'Review the invitation',
  'mail.orOpen': 'Or open this link:',
  'mail.expires': 'The link works once and expires on {expires}.',
  'mail.ignore':
    'If you did not expect this invitation, ignore this e-mail: nothing happens until you accept.',
  'mail.sentTo': 'This invitation was sent to {email}.',
  'mail.sentBy': 'Sent by {product}.',
  'page.title': 'Invitation to {org}',
  'page.heading': 'Join {org}',
  'page.invited': 'You are invited {what}.',
  'page.invitedBy': '{inviter} invites you {what}.',
  'page.what.organization': 'to join this organization',
  'page.what.group': 'to join this organization in the group {group}',
  'page.what.resource': 'to work on {resource}',
  'page.organization': 'Organization',
  'page.role': 'Role',
  'page.resource': 'Resource',
  'page.group': 'Group',
  'page.email': 'Invited',
  'page.expires': 'Expires',
  'page.accept': 'Accept invitation',
  'page.nothingHappens':
    'Nothing happens until you press Accept. If you did not expect this invitation, close this page.',
  'page.accepted.title': 'This invitation was already accepted',
  'page.accepted.text':
    'Each invitation link works once. If you accepted it, you already have access.',
  'page.revoked.title': 'This invitation was withdrawn',
  'page.revoked.text':
    'The organization withdrew it. Ask them for a new invitation if you expected access.',
  'page.expired.title': 'This invitation has expired',
  'page.expired.text': 'Ask the organization to send a new invitation.',
  'page.unknown.title': 'This invitation link is not valid',
  'page.unknown.text':
    'Check that the whole link was copied from the e-mail, or ask for a new invitation.',
  'page.welcome.title': 'Invitation accepted',
  'page.welcome.heading': 'Welcome to {org}',
  'page.welcome.text': 'Your invitation is accepted. You can close this page and sign in.',
  'page.unavailable.title': 'Try again in a moment',
  'page.unavailable.text':
    'The service is busy or briefly unavailable. Nothing was changed: reload this page in a few seconds. Your invitation link still works.',
} as const;

/** A message's key. */
export type MessageKey = keyof typeof ENGLISH;
/** Messages of one language: every key (built in) or some (a platform's rewording). */
export type Catalogue = Readonly<Partial<Record<MessageKey, string>>>;

/** The French catalogue, in the consoles' own words (vous, « l'organisation »). */
export const FRENCH: Readonly<Record<MessageKey, string>> = {
  'mail.subject.organization': 'Invitation à rejoindre {org}',
  'mail.subject.resource': 'Invitation à {resource} de {org}',
  'mail.hello': 'Bonjour,',
  'mail.invited': 'Vous êtes invité(e) {what}.',
  'mail.invitedBy': '{inviter} vous invite {what}.',
  'mail.what.organization': 'à rejoindre {org} en tant que {role}',
  'mail.what.group': 'à rejoindre {org} dans le groupe {group}',
  'mail.what.groupRole': 'à rejoindre {org} dans le groupe {group} en tant que {role}',
  'mail.what.resource': 'à travailler sur {resource} de {org} en tant que {role}',
  'mail.open': "Ouvrez ce lien pour accepter l'invitation :",
  'mail.button': "Voir l'invitation",
  'mail.orOpen': 'Ou ouvrez ce lien :',
  'mail.expires': "Le lien ne sert qu'une fois et expire le {expires}.",
  'mail.ignore':
    "Si vous n'attendiez pas cette invitation, ignorez cet e-mail : rien ne se passe tant que vous ne l'acceptez pas.",
  'mail.sentTo': 'Cette invitation a été envoyée à {email}.',
  'mail.sentBy': 'Envoyé par {product}.',
  'page.title': 'Invitation à {org}',
  'page.heading': 'Rejoindre {org}',
  'page.invited': 'Vous êtes invité(e) {what}.',
  'page.invitedBy': '{inviter} vous invite {what}.',
  'page.what.organization': 'à rejoindre cette organisation',
  'page.what.group': 'à rejoindre cette organisation dans le groupe {group}',
  'page.what.resource': 'à travailler sur {resource}',
  'page.organization': 'Organisation',
  'page.role': 'Rôle',
  'page.resource': 'Ressource',
  'page.group': 'Groupe',
  'page.email': 'Invité(e)',
  'page.expires': 'Expire le',
  'page.accept': "Accepter l'invitation",
  'page.nothingHappens':
    "Rien ne se passe tant que vous n'appuyez pas sur Accepter. Si vous n'attendiez pas cette invitation, fermez cette page.",
  'page.accepted.title': 'Cette invitation a déjà été acceptée',
  'page.accepted.text':
    "Chaque lien d'invitation ne sert qu'une fois. Si vous l'avez accepté, vous avez déjà accès.",
  'page.revoked.title': 'Cette invitation a été retirée',
  'page.revoked.text':
    "L'organisation l'a retirée. Demandez-lui une nouvelle invitation si vous deviez avoir accès.",
  'page.expired.title': 'Cette invitation a expiré',
  'page.expired.text': "Demandez à l'organisation de vous envoyer une nouvelle invitation.",
  'page.unknown.title': "Ce lien d'invitation n'est pas valide",
  'page.unknown.text':
    "Vérifiez que le lien a été copié en entier depuis l'e-mail, ou demandez une nouvelle invitation.",
  'page.welcome.title': 'Invitation acceptée',
  'page.welcome.heading': 'Bienvenue dans {org}',
  'page.welcome.text':
    'Votre invitation est acceptée. Vous pouvez fermer cette page et vous connecter.',
  'page.unavailable.title': 'Réessayez dans un instant',
  'page.unavailable.text':
    "Le service est occupé ou brièvement indisponible. Rien n'a été modifié : rechargez cette page dans quelques secondes. Votre lien d'invitation fonctionne toujours.",
};

/** The languages Roster speaks without a catalogue file. */
export const BUILT_IN_CATALOGUES: ReadonlyMap<string, Catalogue> = new Map<string, Catalogue>([
  ['en', ENGLISH],
  ['fr', FRENCH],
]);

/** A BCP 47 tag as declared (`fr`, `fr-CA`, `pt-BR`). */
export const LOCALE_PATTERN = '^[a-zA-Z]{2,3}(-[a-zA-Z0-9]{2,8})*$';

const PLACEHOLDER = /\{([a-zA-Z]+)\}/g;

/** The placeholders a message uses. */
export function placeholdersOf(message: string): string[] {
  return [...message.matchAll(PLACEHOLDER)].map((m) => m[1] ?? '');
}

/** HTML already escaped, inserted as is into another message. */
export class Html {
  constructor(readonly html: string) {}
}

/** Text made safe for HTML: the five characters that could end an element or an attribute. */
export const escapeHtml = (text: string): string =>
  text.replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);

/** Values for a message's placeholders. */
export type MessageValues = Readonly<Record<string, string | Html>>;

/** The messages of one chosen locale, with dates in one time zone. */
export class Translator {
  private readonly dates: Intl.DateTimeFormat;

  constructor(
    /** The locale chosen (a key of the catalogues: `fr`, `fr-ca`, `en`). */
    readonly locale: string,
    private readonly chain: readonly Catalogue[],
    readonly timeZone: string,
  ) {
    this.dates = dateFormat(locale, timeZone);
  }

  /** The message as plain text. */
  text(key: MessageKey, values: MessageValues = {}): string {
    return this.template(key).replace(PLACEHOLDER, (whole, name: string) => {
      const value = values[name];
      return value === undefined ? whole : value instanceof Html ? value.html : value;
    });
  }

  /** The message as HTML: text and values escaped, the `strong` values in <strong>. */
  html(key: MessageKey, values: MessageValues = {}, strong: readonly string[] = []): Html {
    const template = this.template(key);
    let out = '';
    let last = 0;
    for (const match of template.matchAll(PLACEHOLDER)) {
      out += escapeHtml(template.slice(last, match.index));
      const name = match[1] ?? '';
      const value = values[name];
      const html =
        value === undefined
          ? escapeHtml(match[0])
          : value instanceof Html
            ? value.html
            : escapeHtml(value);
      out += strong.includes(name) ? `<strong>${html}</strong>` : html;
      last = (match.index ?? 0) + match[0].length;
    }
    return new Html(out + escapeHtml(template.slice(last)));
  }

  /** A time in the locale and time zone: `30 novembre 2026 à 15:05 UTC+1`. */
  date(at: Date): string {
    return this.dates.format(at);
  }

  private template(key: MessageKey): string {
    for (const catalogue of this.chain) {
      const message = catalogue[key];
      if (message !== undefined) return message;
    }
    return ENGLISH[key];
  }
}

/** Formatters are costly to make (a tenth of a delivery's CPU when made per mail): one per pair. */
const formats = new Map<string, Intl.DateTimeFormat>();
function dateFormat(locale: string, timeZone: string): Intl.DateTimeFormat {
  const key = `${locale}\u0000${timeZone}`;
  let format = formats.get(key);
  if (format === undefined) {
    format = new Intl.DateTimeFormat(locale === 'en' ? 'en-GB' : locale, {
      day: 'numeric',
      month: 'long',
      year: 'numeric',
      hour: '2-digit',
      minute: '2-digit',
      timeZone,
      timeZoneName: 'short',
    });
    if (formats.size < 1000) formats.set(key, format);
  }
  return format;
}

/** Whether the runtime knows a time zone (`Europe/Paris`, `UTC`). */
export function isTimeZone(name: string): boolean {
  try {
    new Intl.DateTimeFormat('en', { timeZone: name });
    return true;
  } catch {
    return false;
  }
}

/** Every catalogue: the built-in ones, with a platform's on top, by lowercase locale. */
export class Messages {
  private readonly catalogues: ReadonlyMap<string, readonly Catalogue[]>;

  constructor(
    extra: ReadonlyMap<string, Catalogue> = new Map(),
    /** The platform's language when nothing else is declared (default `en`). */
    readonly defaultLocale = 'en',
    /** The platform's time zone when an organization declares none (default `UTC`). */
    readonly defaultTimeZone = 'UTC',
  ) {
    const all = new Map<string, Catalogue[]>();
    for (const [locale, catalogue] of BUILT_IN_CATALOGUES) all.set(locale, [catalogue]);
    for (const [locale, catalogue] of extra) {
      const key = locale.toLowerCase();
      all.set(key, [catalogue, ...(all.get(key) ?? [])]);
    }
    this.catalogues = all;
  }

  /** The locales there are messages for. */
  locales(): string[] {
    return [...this.catalogues.keys()].sort();
  }

  /**
   * The messages for the first candidate Roster speaks (each tried as is, then by its language:
   * `fr-CA` falls back to `fr`), else the platform's default, else English. A regional
   * catalogue falls back to its language's for the keys it does not reword.
   */
  for(candidates: readonly (string | null | undefined)[], timeZone?: string | null): Translator {
    const zone = timeZone ?? this.defaultTimeZone;
    for (const candidate of [...candidates, this.defaultLocale, 'en']) {
      if (candidate === null || candidate === undefined || candidate === '') continue;
      const tag = candidate.toLowerCase();
      const language = tag.split('-')[0] ?? tag;
      const own = this.catalogues.get(tag);
      const general = this.catalogues.get(language);
      if (own !== undefined || general !== undefined) {
        const chain = [...(own ?? []), ...(tag === language ? [] : (general ?? []))];
        return new Translator(own !== undefined ? tag : language, chain, zone);
      }
    }
    return new Translator('en', [ENGLISH], zone);
  }

  /** The languages of an Accept-Language header, best first (for pages no invitation names). */
  static acceptLanguage(header: string | undefined): string[] {
    if (header === undefined) return [];
    return header
      .split(',')
      .map((part, index) => {
        const [tag = '', ...params] = part.trim().split(';');
        const q = params.map((p) => /^\s*q=([0-9.]+)\s*$/.exec(p)?.[1]).find(Boolean);
        return { tag: tag.trim(), q: q === undefined ? 1 : Number(q), index };
      })
      .filter(
        (l) => l.tag !== '' && l.tag !== '*' && l.q > 0 && new RegExp(LOCALE_PATTERN).test(l.tag),
      )
      .sort((a, b) => b.q - a.q || a.index - b.index)
      .slice(0, 10)
      .map((l) => l.tag);
  }
}
