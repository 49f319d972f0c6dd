// Layer: conformance tests. Runs every test/conformance/*.hmm (the ports of the kernel's hmm
// selftests) through runScriptText: each must be accepted and run to its end. A negative
// control proves the runner can fail: one script with one expectation flipped must not pass.

import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { runScriptText } from '../src/hmm/lang/runner';
import { formatDiagnostic } from '../src/hmm/lang/ast';

/** Tests run from out/test; the scripts stay in the source tree. */
const CONFORMANCE_DIR = path.resolve(__dirname, '../../test/conformance');

const scripts = fs.readdirSync(CONFORMANCE_DIR).filter((f) => f.endsWith('.hmm')).sort();

describe('conformance: kernel hmm selftests ported to .hmm', function () {
  this.timeout(30000);

  it('finds the conformance scripts', () => {
    assert.ok(scripts.length >= 40, `only ${scripts.length} scripts in ${CONFORMANCE_DIR}`);
  });

  for (const name of scripts) {
    it(name, () => {
      const file = path.join(CONFORMANCE_DIR, name);
      const run = runScriptText(file, fs.readFileSync(file, 'utf8'));
      assert.deepEqual(run.diagnostics.map(formatDiagnostic), [], `${name} should be accepted`);
      assert.equal(run.error, undefined, `${name} failed at run time: ${run.error}`);
      assert.ok(run.statements > 0, `${name} ran no statement`);
    });
  }
});

describe('conformance: negative control', () => {
  /** A copy of migrate.hmm with one line replaced; returns the run and the line's number. */
  function flipped(original: string, replacement: string): { error: string | undefined; line: number } {
    const file = path.join(CONFORMANCE_DIR, 'migrate.hmm');
    const lines = fs.readFileSync(file, 'utf8').split('\n');
    const idx = lines.indexOf(original);
    assert.ok(idx >= 0, `migrate.hmm no longer has the line '${original}'`);
    lines[idx] = replacement;
    const run = runScriptText('migrate-flipped.hmm', lines.join('\n'));
    assert.deepEqual(run.diagnostics.map(formatDiagnostic), [], 'the flipped copy still parses');
    return { error: run.error, line: idx + 1 };
  }

  it('migrate.hmm with a flipped page-state expectation fails there', () => {
    const { error, line } = flipped('expect a is device gpu0 rw', 'expect a is system rw');
    assert.equal(error, `migrate-flipped.hmm:${line}:1: expected a[0] is system rw, found device gpu0 rw`);
  });

  it('migrate.hmm with a flipped counter expectation fails there', () => {
    const { error, line } = flipped('expect last.cpages == 1024', 'expect last.cpages == 1023');
    assert.equal(error, `migrate-flipped.hmm:${line}:1: expected last.cpages == 1023, found 1024`);
  });

  it('migrate.hmm with a flipped data expectation fails there', () => {
    const { error, line } = flipped('expect last.data == i', 'expect last.data == -i');
    assert.ok(error !== undefined && error.startsWith(`migrate-flipped.hmm:${line}:1: expected last.data == -i, found `), error);
  });

  it('migrate.hmm with a flipped notifier expectation fails there', () => {
    const { error, line } = flipped('expect notified gpu0 MIGRATE owner gpu0', 'expect not notified gpu0');
    assert.ok(error !== undefined && error.startsWith(`migrate-flipped.hmm:${line}:1: expected no callback of gpu0's mirror`), error);
  });
});
