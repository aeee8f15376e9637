// Goal: docs/cli.md documents every command, flag (with its environment variable and default),
// environment variable and exit code the CLI has, so the documentation cannot drift from it.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { flagLabel } from '../../src/cli/args.js';
import { exitCodes } from '../../src/cli/kv-commands.js';
import { startEnvNames } from '../../src/cli/start-options.js';
import { commands } from '../../src/cli/usage.js';

const doc = readFileSync(new URL('../../../docs/cli.md', import.meta.url), 'utf8');
const lines = doc.split('\n');
const isRow = (l: string): boolean => l.startsWith('| `');

/** The table rows of a command's own section (to the next heading of its level or above). */
function sectionRows(name: string): string[] {
  const start = lines.findIndex((l) => new RegExp(`^#{2,3} raftkv ${name}$`).test(l));
  if (start < 0) return [];
  const level = /^#+/.exec(lines[start]!)![0].length;
  const end = lines.findIndex((l, i) => i > start && new RegExp(`^#{1,${level}} `).test(l));
  return lines.slice(start, end < 0 ? undefined : end).filter(isRow);
}

test('every command has a section', () => {
  for (const c of commands) {
    if (c.flags.length === 0) continue;
    assert.match(doc, new RegExp(`^#{2,3} raftkv ${c.name}$`, 'm'), `section for raftkv ${c.name}`);
    assert.ok(doc.includes(c.synopsis), `synopsis of ${c.name}`);
  }
});

test('every flag has a table row with its environment variable and default', () => {
  for (const c of commands) {
    for (const f of c.flags) {
      const label = flagLabel(f).replace(/\|/g, '\\|');
      // Its own section's row, else the shared one (client flags, node flags passed on by cluster).
      const match = (r: string): boolean => r.startsWith(`| \`${label}\` |`);
      const row = sectionRows(c.name).find(match) ?? lines.filter(isRow).find(match);
      assert.ok(row, `row for ${flagLabel(f)} (raftkv ${c.name})`);
      const cells = row.split(/(?<!\\)\|/).map((x) => x.trim());
      if (f.env !== undefined) assert.equal(cells[2], `\`${f.env}\``, `env of ${f.name}`);
      else assert.equal(cells[2], '', `${f.name} has no environment variable`);
      if (f.default !== undefined)
        assert.ok(cells[3]!.includes(f.default), `default of ${f.name}: ${f.default}`);
    }
  }
});

test('every environment variable and exit code is listed', () => {
  for (const name of [...startEnvNames, 'RAFTKV_ENDPOINTS', 'RAFTKV_TIMEOUT']) {
    assert.ok(doc.includes(`\`${name}\``), `environment variable ${name}`);
  }
  for (const code of Object.values(exitCodes))
    assert.match(doc, new RegExp(`^\\| ${code} \\|`, 'm'), `exit code ${code}`);
});
