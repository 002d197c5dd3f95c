import { describe, expect, it } from 'vitest';
import { dayInBerlin, fromAcceptLanguage, localeOf, messages } from './i18n.ts';

describe('the message catalogue', () => {
  it('German first: Accept-Language, then the switch (query) and its cookie', () => {
    expect(fromAcceptLanguage(undefined)).toBe('de');
    expect(fromAcceptLanguage('fr-FR,fr;q=0.9')).toBe('de');
    expect(fromAcceptLanguage('en-US,en;q=0.9,de;q=0.8')).toBe('en');
    expect(fromAcceptLanguage('de-DE,de;q=0.9,en;q=0.8')).toBe('de');
    expect(fromAcceptLanguage('en;q=0.5,de;q=0.9')).toBe('de');
    expect(localeOf('en', 'lang=de', 'de')).toBe('en');
    expect(localeOf(undefined, 'x=1; lang=en', 'de')).toBe('en');
    expect(localeOf('xx', undefined, undefined)).toBe('de');
  });

  it('times in Europe/Berlin to the minute, dates in German form', () => {
    const de = messages('de');
    expect(de.time('2026-12-05T13:03:59.999Z')).toBe('05.12.2026, 14:03 Uhr');
    expect(de.time('2026-07-05T13:03:00Z')).toBe('05.07.2026, 15:03 Uhr');
    expect(de.date('2026-11-01')).toBe('01.11.2026');
    expect(dayInBerlin('2026-11-20T23:30:00Z')).toBe('2026-11-21');
    expect(messages('en').time('2026-12-05T13:03:00Z')).toBe('05 Dec 2026, 14:03');
  });

  it('escapes interpolated values; German and English have the same keys', () => {
    expect(messages('de').t('search.none', { id: '<script>' })).not.toContain('<script>');
    expect(messages('de').t('state.held-back:no-idnr')).toBe('wartet auf die Steuer-ID');
    expect(messages('en').t('state.held-back:no-idnr')).toBe('waiting for the tax id');
    const keys = (o: object, prefix = ''): string[] => Object.entries(o).flatMap(([k, v]) => (typeof v === 'object' ? keys(v as object, `${prefix}${k}.`) : [`${prefix}${k}`]));
    const de = messages('de').t('home', { returnObjects: true }) as object;
    const en = messages('en').t('home', { returnObjects: true }) as object;
    expect(keys(en).sort()).toEqual(keys(de).sort());
  });
});
