// The XPersonenstand fixtures (official schemas and samples) kept in fixtures/xpersonenstand/.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';

export const repoRoot = path.resolve(import.meta.dirname, '../..');
export const fixturesDir = process.env.ELFE_FIXTURES ?? path.join(repoRoot, 'fixtures/xpersonenstand');
export const fixturesAvailable = existsSync(path.join(fixturesDir, 'catalog.xml'));

export const fixture = (relative: string): string => readFileSync(path.join(fixturesDir, relative), 'utf8');

export const schemaFile = (name: 'portale' | 'elterngeldstelle'): string =>
  path.join(fixturesDir, 'schemas/xpsw.domap.de/xpsw2611', `xpersonenstand-nachrichten-${name}.xsd`);
