// Layer: tests of the tools under bad input (issue 12): nesting past the parser's limits,
// script files that are not scripts, runaway scripts stopped by a time or memory budget.
// Each `describe` is one class of finding; the CLI runs as a child process (dist/hmm-sim.js).

import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as v8 from 'node:v8';
import * as vm from 'node:vm';
import { Budget, MemoryGauge } from '../src/hmm/lang/budget';
import { MAX_BLOCK_DEPTH, MAX_EXPR_DEPTH, MAX_SCRIPT_BYTES } from '../src/hmm/lang/limits';
import { diagnose, runScriptText, runScriptTextAsync } from '../src/hmm/lang/runner';
import { readScriptFile, ScriptFileError } from '../src/hmm/lang/scriptFile';

const ROOT = path.resolve(__dirname, '../..');
const BUNDLE = path.join(ROOT, 'dist', 'hmm-sim.js');

function hmmSim(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [BUNDLE, ...args], { cwd: ROOT, encoding: 'utf8', timeout: 60000 });
  if (r.error) throw r.error;
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** The problems of a script (parse and check), as `line:col: message`. */
const problems = (text: string): string[] => diagnose('t.hmm', text).diagnostics.map((d) => `${d.line}:${d.col}: ${d.message}`);

/** `open` nested `n` times around `inner`, each level closed by `}` on its own line. */
function nestedBlocks(n: number, open: string, inner: string): string {
  return `${open}\n`.repeat(n) + `${inner}\n` + '}\n'.repeat(n);
}

describe('reliability: nesting depth (parser, checker)', () => {
  const head = 'a = mmap 1 page rw\n';
  const deep: [string, string][] = [
    ['parentheses', `${head}write a = ${'('.repeat(5000)}1${')'.repeat(5000)}\n`],
    ['unary minus', `${head}write a = ${'- '.repeat(20000)}1\n`],
    ['a chain of + terms', `${head}write a = 1${' + 1'.repeat(20000)}\n`],
    ['a chain of mixed operators', `${head}write a = i${' * 3 | 1 << 2 ^ 5 & 7 - 1'.repeat(3000)}\n`],
    ['an index expression', `${head}write a[${'('.repeat(3000)}0${')'.repeat(3000)}] = 1\n`],
    ['a repeat count', `${head}repeat ${'-'.repeat(3000)}1 {\n}\n`],
  ];
  for (const [what, text] of deep) {
    it(`refuses an expression nested too deeply: ${what}`, () => {
      const p = problems(text);
      assert.equal(p.length, 1, p.join('\n'));
      assert.match(p[0]!, /^2:\d+: expression is nested too deeply: at most 256 levels/);
    });
  }

  it('accepts an expression right at the limit', () => {
    // Depth MAX_EXPR_DEPTH: 1 + 1 + … with MAX_EXPR_DEPTH - 1 operators.
    const ok = `${head}write a = 1${' + 1'.repeat(MAX_EXPR_DEPTH - 1)}\nexpect a[0] == ${MAX_EXPR_DEPTH}\n`;
    assert.deepEqual(problems(ok), []);
    assert.equal(runScriptText('t.hmm', ok).error, undefined);
    assert.equal(problems(`${head}write a = 1${' + 1'.repeat(MAX_EXPR_DEPTH)}\n`).length, 1);
  });

  const blocks: [string, string, string][] = [
    ['repeat', 'repeat 1 {', 'write a = 1'],
    ['fork', 'fork {', 'write a = 1'],
    ['as', 'as main {', 'write a = 1'],
  ];
  for (const [what, open, inner] of blocks) {
    it(`refuses ${what} blocks nested 20,000 deep with one diagnostic at the first level too deep`, () => {
      const p = problems(`${head}${nestedBlocks(20000, open, inner)}`);
      assert.ok(p.length >= 1, 'no diagnostic');
      assert.match(p[0]!, new RegExp(`^${MAX_BLOCK_DEPTH + 2}:\\d+: blocks are nested too deeply: at most ${MAX_BLOCK_DEPTH} levels$`), p.join('\n'));
      assert.ok(p.length < 5, `one problem per too-deep block, not per line:\n${p.slice(0, 10).join('\n')}`);
    });
  }

  it('a refused block keeps the lines after it matched', () => {
    const text = `${head}${nestedBlocks(MAX_BLOCK_DEPTH + 1, 'repeat 1 {', 'write a = 1')}write a = 2\nbogus\n`;
    const p = problems(text);
    assert.equal(p.length, 2, p.join('\n'));
    assert.match(p[1]!, new RegExp(`^${2 * MAX_BLOCK_DEPTH + 6}:1: unknown statement 'bogus'`));
  });

  it('runs blocks nested right at the limit', () => {
    const text = `${head}${nestedBlocks(MAX_BLOCK_DEPTH, 'repeat 1 {', 'write a = 1')}expect a == 1\n`;
    assert.deepEqual(problems(text), []);
    assert.equal(runScriptText('t.hmm', text).error, undefined);
  });

  it('checks and runs a chain of 20,000 fns, each calling the one before', () => {
    let text = `${head}fn f0 {\n  write a = 7\n}\n`;
    for (let i = 1; i < 20000; i++) text += `fn f${i} {\n  call f${i - 1}\n}\n`;
    text += 'call f19999\nexpect a == 7\n';
    const run = runScriptText('t.hmm', text);
    assert.deepEqual(run.diagnostics, []);
    assert.equal(run.error, undefined);
  });
});

describe('reliability: script files (hmm-sim, launch)', function () {
  this.timeout(60000);
  let dir = '';
  before(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hmm-rel-')); });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('refuses a device, a directory, a FIFO and a file past the size limit, with exit 2', () => {
    const big = path.join(dir, 'big.hmm');
    fs.writeFileSync(big, `# ${'x'.repeat(MAX_SCRIPT_BYTES)}\n`);
    const fifo = path.join(dir, 'fifo.hmm');
    spawnSync('mkfifo', [fifo]);
    const cases: [string, RegExp][] = [
      ['/dev/zero', /^\/dev\/zero: cannot read: not a regular file/m],
      [dir, /: cannot read: it is a directory$/m],
      [big, /big\.hmm: cannot read: \d+ bytes is larger than the 1 MiB a script may be$/m],
      [path.join(dir, 'missing.hmm'), /missing\.hmm: cannot read: ENOENT$/m],
    ];
    if (fs.existsSync(fifo)) cases.push([fifo, /fifo\.hmm: cannot read: not a regular file/m]);
    for (const [file, want] of cases) {
      const r = hmmSim('run', file);
      assert.equal(r.status, 2, `${file}: ${r.stderr}`);
      assert.match(r.stderr, want);
    }
  });

  it('readScriptFile reads a script up to the limit', () => {
    const f = path.join(dir, 'ok.hmm');
    fs.writeFileSync(f, 'a = mmap 1 page rw\n');
    assert.equal(readScriptFile(f), 'a = mmap 1 page rw\n');
    assert.throws(() => readScriptFile('/dev/null'), ScriptFileError);
  });
});

describe('reliability: time and memory budgets', function () {
  this.timeout(60000);
  let dir = '';
  before(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hmm-rel-')); });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  const script = (name: string, text: string): string => {
    const f = path.join(dir, name);
    fs.writeFileSync(f, text);
    return f;
  };

  it('--timeout stops an endless loop with a runtime error at the statement reached', () => {
    const f = script('loop.hmm', 'a = mmap 1 page rw\nrepeat 1000000000 as k {\n  write a = k\n}\n');
    const r = hmmSim('run', '--timeout', '1', f);
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, /loop\.hmm:3:3: stopped: the time limit of 1 s was reached$/m);
  });

  it('--max-memory stops a script with a runtime error, never a kill by the OS', () => {
    const f = script('mem.hmm', 'a = mmap 1 page rw\nrepeat 1000000000 as k {\n  write a = k\n}\n');
    // Any process is past 1 MiB: the first look at memory stops the run.
    const r = hmmSim('run', '--max-memory', '1', f);
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, /mem\.hmm:\d+:\d+: stopped: memory use \(\d+ MiB\) passed the limit of 1 MiB$/m);
  });

  it('refuses bad limits with exit 2', () => {
    for (const args of [['--timeout', '0'], ['--timeout', 'x'], ['--timeout'], ['--max-memory', '-5'], ['--max-memory=1e99']]) {
      const r = hmmSim('run', ...args, 'x.hmm');
      assert.equal(r.status, 2, args.join(' '));
      assert.match(r.stderr, /^hmm-sim: --(timeout|max-memory) (must be|needs)/, r.stderr);
    }
  });

  it('a budget looks at the clock every time, and at memory every 10 ms past half the limit, 100 ms below, 250 ms below a quarter', () => {
    let t = 0;
    let mem = 100;
    let looks = 0;
    const b = new Budget({ timeoutMs: 1000, maxMemoryBytes: 1000 }, new MemoryGauge(() => { looks++; return mem; }), () => t);
    assert.equal(b.exceeded(), undefined);
    mem = 300;
    t = 249;
    assert.equal(b.exceeded(), undefined, 'below a quarter of the limit: not looked at again within 250 ms');
    t = 250;
    assert.equal(b.exceeded(), undefined, 'a quarter of the limit');
    mem = 600;
    t = 349;
    assert.equal(b.exceeded(), undefined, 'below half: not looked at again within 100 ms');
    t = 350;
    assert.equal(b.exceeded(), undefined, 'over half the limit, not past it');
    mem = 2000;
    t = 359;
    assert.equal(b.exceeded(), undefined, 'memory looked at again within 10 ms');
    t = 360;
    assert.match(b.exceeded() ?? '', /^memory use/);
    assert.equal(looks, 4);
    mem = 0;
    t = 1001;
    assert.equal(b.exceeded(), 'the time limit of 1 s was reached');
  });

  it("a debugging session's runs share one memory gauge: a step does not read memory again within its interval", () => {
    let looks = 0;
    let t = 0;
    const gauge = new MemoryGauge(() => { looks++; return 100; });
    const run = (): string | undefined => new Budget({ maxMemoryBytes: 1000 }, gauge, () => t).exceeded();
    assert.equal(run(), undefined);
    t = 5;
    assert.equal(run(), undefined);
    t = 249;
    assert.equal(run(), undefined);
    assert.equal(looks, 1, 'three runs within 250 ms, one look');
    t = 250;
    assert.equal(run(), undefined);
    assert.equal(looks, 2);
  });

  it('an async run (Run Script Headless) is cancelled inside one long statement: a write over 1023 GiB', async () => {
    const abort = new AbortController();
    setTimeout(() => abort.abort(), 100);
    const run = await runScriptTextAsync('t.hmm', 'a = mmap 1023 GiB rw\nwrite a = i\n', { signal: abort.signal });
    assert.equal(run.cancelled, true);
    assert.equal(run.statements, 1, 'the mmap ran, the write was cut short');
  });

  it('stops inside one long statement: a write over 1023 GiB', () => {
    // Far longer than the limit however fast a write gets (64 GiB now take about 0.2 s warm).
    const run = runScriptText('t.hmm', 'a = mmap 1023 GiB rw\nwrite a = i\n', { limits: { timeoutMs: 300 } });
    assert.equal(run.error, 't.hmm:2:1: stopped: the time limit of 0.3 s was reached');
  });
});

describe('reliability: what a long run keeps', () => {
  it('a loop writing its counter keeps a small integer per distinct value, not a closure and a key', () => {
    v8.setFlagsFromString('--expose-gc');
    const gc = vm.runInNewContext('gc') as () => void;
    gc();
    const before = process.memoryUsage().heapUsed;
    const run = runScriptText('t.hmm', 'a = mmap 1 page rw\nrepeat 300000 as k {\n  write a = k\n}\nexpect a == 299999\n');
    assert.equal(run.error, undefined);
    gc();
    const perValue = (process.memoryUsage().heapUsed - before) / 300000;
    // About 60 bytes now (a slot and a map entry); a pattern object per value was about 370.
    assert.ok(perValue < 160, `${perValue.toFixed(0)} bytes kept per distinct value`);
    assert.equal(run.sim!.contents.size, 300000, "one content per value but 0, plus the zero page");
  });
});
