// Goal: the flag parser every command line shares (node:util's parseArgs, strict) accepts `--f v`,
// `--f=v`, booleans and `--`, and turns every mistake into a one-line UsageError naming the flag.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  type FlagDef,
  listOption,
  parseArgs,
  parseChoice,
  parseDurationMs,
  parseInteger,
  stringOption,
  UsageError,
  wantsHelp,
} from '../../src/cli/args.js';

const defs: FlagDef[] = [
  { name: 'name', value: 'N', help: '' },
  { name: 'flag', help: '' },
];

test('flags with separate and inline values, booleans and positionals', () => {
  const p = parseArgs(['a', '--name', 'x', 'b', '--flag', '--name=y=z'], defs);
  assert.deepEqual(p.positionals, ['a', 'b']);
  assert.equal(p.flags.get('name'), 'y=z', 'the last occurrence wins; = inside the value is kept');
  assert.equal(p.flags.get('flag'), true);
  assert.equal(p.help, false);
});

test('a value that starts with a dash is attached with "="; apart, it names the flag in the error', () => {
  assert.equal(parseArgs(['--name=--flag'], defs).flags.get('name'), '--flag');
  assert.equal(parseArgs(['--name=-5'], defs).flags.get('name'), '-5');
  assert.throws(() => parseArgs(['--name', '-5'], defs), /--name needs a value .*--name=-5/);
  assert.throws(() => parseArgs(['--name', '--flag'], defs), /--name needs a value/);
});

test('"--" ends the flags; "-" is a positional, and so is "-5" after "--"', () => {
  const p = parseArgs(['--', '--name', '-x'], defs);
  assert.deepEqual(p.positionals, ['--name', '-x']);
  assert.deepEqual(parseArgs(['-', '--', '-5'], defs).positionals, ['-', '-5']);
  assert.throws(() => parseArgs(['-5'], defs), /unknown flag -5 \(put "--" before/);
});

test('a multiple flag keeps every value, in order', () => {
  const many: FlagDef[] = [{ name: 'm', value: 'M', help: '', multiple: true }];
  assert.deepEqual(listOption(parseArgs(['--m', 'a', '--m=b'], many), 'm'), ['a', 'b']);
  assert.deepEqual(listOption(parseArgs([], many), 'm'), []);
});

test('usage errors: unknown flags, missing values, values on booleans', () => {
  assert.throws(
    () => parseArgs(['--nope'], defs),
    (e: unknown) => e instanceof UsageError && /--nope/.test(e.message),
  );
  assert.throws(() => parseArgs(['-x'], defs), /unknown flag -x/);
  assert.throws(() => parseArgs(['--name'], defs), /--name needs a value/);
  assert.throws(() => parseArgs(['--flag=1'], defs), /takes no value/);
});

test('help is seen before later errors, but not inside a value or after --', () => {
  assert.equal(wantsHelp(['--help', '--nope'], defs), true);
  assert.equal(wantsHelp(['-h'], defs), true);
  assert.equal(wantsHelp(['--name', '--help'], defs), false);
  assert.equal(wantsHelp(['--', '--help'], defs), false);
  assert.equal(wantsHelp(['--nope', '--help'], defs), false, 'a parse error first means no help');
});

test('flags win over the environment; an empty variable counts as unset', () => {
  const p = parseArgs(['--name', 'flag'], defs);
  assert.equal(stringOption(p, 'name', { N: 'env' }, 'N'), 'flag');
  const q = parseArgs([], defs);
  assert.equal(stringOption(q, 'name', { N: 'env' }, 'N'), 'env');
  assert.equal(stringOption(q, 'name', { N: '' }, 'N'), undefined);
});

test('numbers, durations and choices', () => {
  assert.equal(parseInteger('42', '--n', 1), 42);
  assert.throws(() => parseInteger('0', '--n', 1), /at least 1/);
  assert.throws(() => parseInteger('9', '--n', 1, 5), /between 1 and 5/);
  for (const bad of ['1.5', '-1', '', '1e3', ' 1'])
    assert.throws(() => parseInteger(bad, '--n', 0), UsageError);
  assert.equal(parseDurationMs('250', '--t'), 250);
  assert.equal(parseDurationMs('250ms', '--t'), 250);
  assert.equal(parseDurationMs('2s', '--t'), 2000);
  assert.throws(() => parseDurationMs('0', '--t'), /at least 1 ms/);
  assert.throws(() => parseDurationMs('1m', '--t'), /duration/);
  assert.equal(parseChoice('json', '--f', ['text', 'json']), 'json');
  assert.throws(() => parseChoice('xml', '--f', ['text', 'json']), /one of text, json/);
});
