// Layer: tests of the command-line runner (bin/hmm-sim.js → dist/hmm-sim.js), run as a child
// process: exit statuses, error formats on stderr, print output and the summary on stdout,
// and the Chrome trace file.

import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

/** Tests run from out/test; the project root is two levels up. */
const ROOT = path.resolve(__dirname, '../..');
const BIN = path.join(ROOT, 'bin', 'hmm-sim.js');
const BUNDLE = path.join(ROOT, 'dist', 'hmm-sim.js');

interface Result {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

function hmmSim(...args: string[]): Result {
  const r = spawnSync(process.execPath, [BIN, ...args], { cwd: ROOT, encoding: 'utf8', timeout: 30000 });
  if (r.error) throw r.error;
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

const lines = (s: string): string[] => s.split('\n').filter((l) => l.length > 0);

/** The one-line `hmm-sim: N passed, N failed` summary on stdout. */
function summary(stdout: string): { passed: number; failed: number } {
  const m = /^hmm-sim: (\d+) passed, (\d+) failed$/m.exec(stdout);
  assert.ok(m !== null, `no summary line in:\n${stdout}`);
  return { passed: Number(m[1]), failed: Number(m[2]) };
}

describe('cli: hmm-sim', function () {
  this.timeout(60000);
  let dir = '';

  /** Writes a script into the temp directory and returns its path. */
  function script(name: string, body: readonly string[]): string {
    const file = path.join(dir, name);
    fs.writeFileSync(file, body.join('\n') + '\n');
    return file;
  }

  before(() => {
    if (!fs.existsSync(BUNDLE)) {
      const b = spawnSync(process.execPath, [path.join(ROOT, 'scripts', 'build.mjs')], { cwd: ROOT, encoding: 'utf8' });
      assert.equal(b.status, 0, `the build failed:\n${b.stderr}`);
    }
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hmm-sim-cli-'));
  });

  after(() => {
    if (dir !== '') fs.rmSync(dir, { recursive: true, force: true });
  });

  it('--help prints the usage and exits 0', () => {
    const r = hmmSim('--help');
    assert.equal(r.status, 0);
    assert.match(r.stdout, /usage: hmm-sim run FILE\.\.\./);
    assert.match(r.stdout, /--trace/);
    assert.equal(r.stderr, '');
    assert.equal(hmmSim('run', '--help').status, 0);
  });

  it('exits 2 on an unknown option or no script', () => {
    const a = hmmSim('run', '--frobnicate', 'x.hmm');
    assert.equal(a.status, 2);
    assert.match(a.stderr, /unknown option '--frobnicate'/);
    const b = hmmSim('run');
    assert.equal(b.status, 2);
    assert.match(b.stderr, /no script given/);
  });

  it('says what is wrong with a value or a missing one, and exits 2 (node:util parseArgs, strict)', () => {
    const cases: [string[], RegExp][] = [
      [['run', 'x.hmm', '--trace'], /hmm-sim: --trace needs a value/],
      [['run', '--timeout', '--verbose', 'x.hmm'], /hmm-sim: --timeout needs a value/],
      [['run', '--timeout=abc', 'x.hmm'], /--timeout must be a number above 0 and at most 604800, found 'abc'/],
      [['run', '--max-memory', '0', 'x.hmm'], /--max-memory must be a number above 0/],
      [['run', '--verbose=yes', 'x.hmm'], /hmm-sim: --verbose takes no value/],
      [['run', '-q', 'x.hmm'], /unknown option '-q'/],
      [['frobnicate'], /unknown command 'frobnicate'/],
      [['differential', 'extra'], /hmm-sim differential: unexpected argument 'extra'/],
      [['differential', '--seed'], /hmm-sim differential: --seed needs a value/],
      [['differential', '--count', '0'], /--count takes a whole number from 1 to 100000, found '0'/],
      [['differential', '--focus', 'fork'], /--focus: "fork" is not one of default, mremap/],
      [['kernel', 'exec', 'p.txt', '--op-limit'], /hmm-sim kernel exec: --op-limit needs a value/],
      [['kernel', 'selftest', '--tcg', '--kvm'], /--tcg and --kvm cannot go together/],
    ];
    for (const [args, message] of cases) {
      const r = hmmSim(...args);
      assert.equal(r.status, 2, args.join(' '));
      assert.match(r.stderr, message, args.join(' '));
    }
    // the short forms and --option=value still work
    const f = script('short.hmm', ['a = mmap 1 pages rw', 'read a', '']);
    const ok = hmmSim('run', '-v', '--timeout=60', f);
    assert.equal(ok.status, 0, ok.stderr);
    assert.match(ok.stdout, /short\.hmm:2: read/);
  });

  it('exits 0 on a script that runs to its end, with the summary', () => {
    const f = script('pass.hmm', [
      'device gpu0',
      'a = mmap 16 pages rw',
      'write a = i',
      'migrate a to gpu0',
      'expect a is device gpu0',
      'expect a == i',
    ]);
    const r = hmmSim('run', f);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stderr, '');
    assert.deepEqual(summary(r.stdout), { passed: 1, failed: 0 });
  });

  it('exits 1 on a failed expectation, naming it as file:line:col on stderr', () => {
    const f = script('fail.hmm', [
      'device gpu0',
      'a = mmap 8 pages rw',
      'write a = i',
      'migrate a[..3] to gpu0',
      'expect a[3] is device gpu0',
      'print "not reached"',
    ]);
    const r = hmmSim('run', f);
    assert.equal(r.status, 1);
    assert.deepEqual(lines(r.stderr), [`${f}:5:1: expected a[3] is device gpu0, found system rw`]);
    assert.ok(!r.stdout.includes('not reached'), 'the script stops at the failure');
    assert.deepEqual(summary(r.stdout), { passed: 0, failed: 1 });
  });

  it('exits 1 on a runtime error of a device operation', () => {
    const f = script('efault.hmm', ['device gpu0', 'a = mmap 2 pages none', '  gpu0 read a']);
    const r = hmmSim('run', f);
    assert.equal(r.status, 1);
    assert.deepEqual(lines(r.stderr), [`${f}:3:3: gpu0 read a failed with EFAULT`]);
  });

  it('exits 2 on a script with several errors, listing every one with line:col', () => {
    const f = script('bad.hmm', [
      'device gpu0',
      'a = mmap 4 pages rw',
      'write b = 1',             // 3: b is not declared
      'frobnicate a',            // 4: not a statement
      'read a[',                 // 5: incomplete range
      'expect a is blah',        // 6: not a page state
      'gpu0 read a',             // fine
    ]);
    const r = hmmSim('run', f);
    assert.equal(r.status, 2);
    const errs = lines(r.stderr);
    const where = errs.map((l) => {
      assert.ok(l.startsWith(`${f}:`), `not in file:line:col form: ${l}`);
      const m = /^:(\d+):(\d+): \S/.exec(l.slice(f.length));
      assert.ok(m !== null, `not in file:line:col: message form: ${l}`);
      return Number(m[1]);
    });
    assert.deepEqual(where, [3, 4, 5, 6], errs.join('\n'));
    assert.match(errs[0]!, /:3:7: .*'b'/);
    assert.match(errs[3]!, /:6:13: .*blah/);
    assert.deepEqual(summary(r.stdout), { passed: 0, failed: 1 });
  });

  it('exits 2 on an unreadable file', () => {
    const missing = path.join(dir, 'does-not-exist.hmm');
    const r = hmmSim('run', missing);
    assert.equal(r.status, 2);
    assert.deepEqual(lines(r.stderr), [`${missing}: cannot read: ENOENT`]);
    const d = hmmSim('run', dir);
    assert.equal(d.status, 2, 'a directory is not a script');
    assert.match(d.stderr, /cannot read/);
  });

  it('writes print output to stdout', () => {
    const f = script('print.hmm', [
      'device gpu0',
      'a = mmap 4 pages rw',
      'print "hello from the script"',
      'write a[..2] = i',
      'migrate a[1] to gpu0',
      'print a',
    ]);
    const r = hmmSim('run', f);
    assert.equal(r.status, 0, r.stderr);
    const out = lines(r.stdout);
    const hello = out.indexOf('hello from the script');
    assert.ok(hello >= 0, r.stdout);
    // The residency map of a: its name, size and process, then one line per run of pages.
    assert.match(out[hello + 1]!, /^a \(4 pages, main\) /);
    assert.match(r.stdout, /device gpu0/);
    assert.match(r.stdout, /empty/);
  });

  it('counts passed and failed scripts over several files, rejected ones as failed', () => {
    const ok1 = script('ok1.hmm', ['a = mmap 1 page rw', 'read a', 'expect a is zero']);
    const ok2 = script('ok2.hmm', ['a = mmap 1 page rw', 'write a = 3', 'expect a == 3']);
    const bad = script('bad1.hmm', ['a = mmap 1 page rw', 'expect a == 3']);
    const rej = script('rej.hmm', ['read nowhere']);
    const r = hmmSim('run', ok1, bad, ok2);
    assert.equal(r.status, 1);
    assert.deepEqual(summary(r.stdout), { passed: 2, failed: 1 });
    assert.deepEqual(lines(r.stderr), [`${bad}:2:1: expected a == 3, found a word 0 (i = 0) = 0, expected 3`]);
    const r2 = hmmSim('run', ok1, rej, bad);
    assert.equal(r2.status, 2, 'a rejected script makes the exit status 2');
    assert.deepEqual(summary(r2.stdout), { passed: 1, failed: 2 });
  });

  it('--trace writes Chrome trace JSON with notifier and migrate events', () => {
    const f = script('trace.hmm', [
      'device gpu0',
      'a = mmap 8 pages rw',
      'write a = i',
      'gpu0 read a',
      'migrate a to gpu0',
      'read a[0]',
      'munmap a[4..]',
    ]);
    const out = path.join(dir, 'out.json');
    const r = hmmSim('run', f, '--trace', out);
    assert.equal(r.status, 0, r.stderr);
    const trace = JSON.parse(fs.readFileSync(out, 'utf8')) as { traceEvents?: unknown };
    assert.ok(Array.isArray(trace.traceEvents), 'a traceEvents array');
    const evs = trace.traceEvents as { name?: unknown; cat?: unknown; ph?: unknown; ts?: unknown; pid?: unknown }[];
    for (const e of evs) {
      assert.equal(typeof e.name, 'string');
      assert.equal(typeof e.ph, 'string');
      assert.equal(typeof e.ts, 'number');
    }
    const cats = new Set(evs.map((e) => e.cat));
    assert.ok(cats.has('notifier'), `categories: ${[...cats].join(', ')}`);
    assert.ok(cats.has('migrate'), `categories: ${[...cats].join(', ')}`);
    assert.ok(evs.some((e) => e.cat === 'notifier' && e.name === 'invalidate UNMAP'));
    assert.ok(evs.some((e) => e.cat === 'migrate' && e.ph === 'X'), 'migrate phases are complete events');
    // The --trace=FILE spelling works the same.
    const out2 = path.join(dir, 'out2.json');
    assert.equal(hmmSim('run', `--trace=${out2}`, f).status, 0);
    assert.ok(Array.isArray((JSON.parse(fs.readFileSync(out2, 'utf8')) as { traceEvents?: unknown }).traceEvents));
  });

  it('--trace to an unwritable path exits 2', () => {
    const f = script('t2.hmm', ['a = mmap 1 page rw']);
    const r = hmmSim('run', f, '--trace', path.join(dir, 'no-such-dir', 'x.json'));
    assert.equal(r.status, 2);
    assert.match(r.stderr, /cannot write/);
  });
});

describe('cli: kernel versions and the kernel oracle', function () {
  this.timeout(60000);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hmm-cli-linux-'));
  const thp = path.join(dir, 'thp.hmm');
  fs.writeFileSync(thp, 'device gpu0\na = mmap 512 pages rw huge\nwrite a = i\nmigrate a to gpu0\ngpu0 snapshot a[0]\nexpect last.flags == DEV_PRIVATE_LOCAL|WRITE|PMD\n');
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('--linux 6.12 models Linux 6.12 (the THP is split before it migrates); bad versions exit 2', () => {
    assert.equal(hmmSim('run', thp).status, 0);
    const old = hmmSim('run', '--linux', '6.12', thp);
    assert.equal(old.status, 1);
    assert.match(old.stderr, /thp\.hmm:6:1: expected last\.flags\[0\] == DEV_PRIVATE_LOCAL\|WRITE\|PMD \(0x26\), found DEV_PRIVATE_LOCAL\|WRITE \(0x22\)/);
    const bad = hmmSim('run', '--linux', '5.4', thp);
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /--linux takes one of mainline, 6\.12, found '5\.4'/);
    assert.equal(hmmSim('run', '--kernel', '--linux', 'mainline', thp).status, 2);
  });

  it('--kernel and differential say how to build the kernel when it is not built', () => {
    const env = { ...process.env, HMM_KERNEL_CACHE: path.join(dir, 'no-kernel-here') };
    for (const args of [['run', '--kernel', thp], ['differential', '--count', '5']]) {
      const r = spawnSync(process.execPath, [BIN, ...args], { cwd: ROOT, encoding: 'utf8', timeout: 30000, env });
      assert.equal(r.status, 2, r.stderr);
      assert.match(r.stderr, /run `npm run kernel`/);
    }
    const r = hmmSim('differential', '--count', 'many');
    assert.equal(r.status, 2);
    assert.match(r.stderr, /--count takes a whole number/);
  });
});
