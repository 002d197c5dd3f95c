import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { renderJsonSchemas } from '../../contracts/src/jsonSchemas.ts';
import { schemaDir } from '../../hub/src/cli/contractCommands.ts';

describe('published JSON Schemas (contracts/schemas/)', () => {
  const rendered = renderJsonSchemas();

  it('are up to date with the zod contracts (run `npm run schemas` after changing a contract)', () => {
    const onDisk = readdirSync(schemaDir).filter((f) => f.endsWith('.schema.json')).sort();
    expect(onDisk).toEqual(Object.keys(rendered).sort());
    for (const [file, text] of Object.entries(rendered)) {
      expect(readFileSync(join(schemaDir, file), 'utf8'), file).toBe(text);
    }
  });

  it('describe the closed Elterngeld data set without room for extra fields', () => {
    const schema = JSON.parse(rendered['elterngeld-data-set.schema.json'] ?? '{}') as {
      additionalProperties: boolean;
      properties: Record<string, unknown>;
    };
    expect(schema.additionalProperties).toBe(false);
    expect(Object.keys(schema.properties).sort()).toEqual(['auftragsnummer', 'child', 'dataSet', 'parent1', 'parent2', 'registerKey']);
  });
});
