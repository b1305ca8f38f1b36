import { describe, expect, it } from 'vitest';
import { ENGLISH, FRENCH, Html, Messages, placeholdersOf, type MessageKey } from './messages.js';

describe('messages', () => {
  it('has every English key in French, with the same placeholders', () => {
    for (const key of Object.keys(ENGLISH) as MessageKey[]) {
      expect(placeholdersOf(FRENCH[key]).sort(), key).toEqual(placeholdersOf(ENGLISH[key]).sort());
    }
  });

  it('chooses the first locale it speaks, by language, then the platform default, then English', () => {
    const messages = new Messages(new Map([['fr-ca', { 'mail.hello': 'Allô,' }]]), 'fr');
    expect(messages.for(['fr-CA']).text('mail.hello')).toBe('Allô,');
    // A regional catalogue falls back to its language's for what it does not reword.
    expect(messages.for(['fr-CA']).text('mail.open')).toBe(FRENCH['mail.open']);
    expect(messages.for(['fr-BE']).locale).toBe('fr');
    expect(messages.for([null, 'en']).locale).toBe('en');
    expect(messages.for(['de', null]).locale).toBe('fr'); // the platform's default
    expect(new Messages().for(['de']).locale).toBe('en');
  });

  it('escapes the message and its values in HTML, and inserts HTML values as they are', () => {
    const t = new Messages(new Map([['en', { 'page.heading': '<b>Join</b> {org}' }]])).for(['en']);
    expect(t.html('page.heading', { org: 'A & <B>' }).html).toBe(
      '&#60;b&#62;Join&#60;/b&#62; A &#38; &#60;B&#62;',
    );
    expect(t.html('page.invited', { what: new Html('<em>x</em>') }).html).toBe(
      'You are invited <em>x</em>.',
    );
    expect(t.html('page.what.group', { group: 'g<1>' }, ['group']).html).toBe(
      'to join this organization in the group <strong>g&#60;1&#62;</strong>',
    );
  });

  it('reads Accept-Language by quality, ignoring what is not a language tag', () => {
    expect(Messages.acceptLanguage('de;q=0.5, fr-CH, fr;q=0.9, *;q=0.1, <x>')).toEqual([
      'fr-CH',
      'fr',
      'de',
    ]);
    expect(Messages.acceptLanguage(undefined)).toEqual([]);
  });

  it('writes dates in the locale and time zone', () => {
    const at = new Date('2026-07-01T22:30:00Z');
    expect(new Messages().for(['fr'], 'Europe/Paris').date(at)).toBe(
      '2 juillet 2026 à 00:30 UTC+2',
    );
    expect(new Messages().for(['en'], 'America/New_York').date(at)).toBe(
      '1 July 2026 at 18:30 GMT-4',
    );
  });
});
