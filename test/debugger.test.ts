// The debugger's machinery in src/hmm/lang, without DAP: ranges as users write them, the
// condition language, event-breakpoint conditions, page watches, the REPL, the views' queries,
// threads and stacks, and the one run loop (Execution) the runner and the controller share.

import * as assert from 'node:assert/strict';
import { ScriptController } from '../src/hmm/lang/controller';
import { conditionProblem, evalCondition, interpolate, valueOf } from '../src/hmm/lang/debug/conditions';
import * as queries from '../src/hmm/lang/debug/queries';
import { completions, evaluate } from '../src/hmm/lang/debug/repl';
import { JOB_THREAD_BASE, stackFrames, stoppedThread, threads } from '../src/hmm/lang/debug/threads';
import { Execution } from '../src/hmm/lang/execution';
import { Interpreter } from '../src/hmm/lang/interpreter';
import { parseRangeText, rangeName, resolveRange } from '../src/hmm/lang/ranges';
import { diagnose } from '../src/hmm/lang/runner';

const SCRIPT = [
  'device gpu0',
  'a = mmap 8 pages rw',
  'write a = i',
  'repeat 2 as c {',
  '  migrate a[c] to gpu0',
  '}',
  'migrate a to gpu0',
  'read a[5..7]',
  'b = mmap 4 pages rw',
  '',
].join('\n');

function controller(text = SCRIPT): { ctl: ScriptController; out: string[]; warnings: string[] } {
  const out: string[] = [];
  const warnings: string[] = [];
  const ctl = new ScriptController('t.hmm', text, { output: (t) => out.push(t), warning: (t) => warnings.push(t) });
  assert.deepEqual(ctl.diagnostics, []);
  return { ctl, out, warnings };
}

describe('debugger machinery (src/hmm/lang/debug)', function () {
  it('parses and names ranges one way', function () {
    assert.deepEqual(parseRangeText('a'), { mapping: 'a', start: undefined, end: undefined, whole: true });
    assert.deepEqual(parseRangeText(' a[3] '), { mapping: 'a', start: 3, end: 4, whole: false });
    assert.deepEqual(parseRangeText('a[2..6]'), { mapping: 'a', start: 2, end: 6, whole: false });
    assert.deepEqual(parseRangeText('a[..4]'), { mapping: 'a', start: undefined, end: 4, whole: false });
    assert.deepEqual(parseRangeText('a[4..]'), { mapping: 'a', start: 4, end: undefined, whole: false });
    for (const bad of ['a[]', 'a[x]', '3', 'a[1..2', '']) assert.equal(parseRangeText(bad), undefined, bad);
    assert.equal(rangeName('a', 8, 0, 8), 'a');
    assert.equal(rangeName('a', 8, 3, 4), 'a[3]');
    assert.equal(rangeName('a', 8, 2, 6), 'a[2..6]');
  });

  it('resolves ranges against the machine as it is, saying why when it cannot', async function () {
    const { ctl } = controller();
    assert.equal(resolveRange(ctl.sim, ctl.script, 'a[3]'), 'a is not mapped yet');
    assert.equal(resolveRange(ctl.sim, ctl.script, 'z'), 'no mapping named z');
    await ctl.continue();
    const a = ctl.sim.bindings.get('a')!;
    assert.deepEqual(resolveRange(ctl.sim, ctl.script, 'a[..4]'), { start: a.start, end: a.start + 4, label: 'a[..4]' });
    assert.deepEqual(resolveRange(ctl.sim, ctl.script, 'a'), { start: a.start, end: a.start + 8, label: 'a' });
    assert.equal(resolveRange(ctl.sim, ctl.script, 'a[6..9]'), 'outside a (8 pages)');
    assert.equal(resolveRange(ctl.sim, ctl.script, '7'), 'not a range (write a, a[3] or a[2..6])');
  });

  it('evaluates conditions and log messages over loop variables, last.* and stats', async function () {
    const { ctl, out } = controller();
    ctl.setLineBreakpoints([{ line: 5, condition: 'c == 1' }, { line: 5, logMessage: 'c={c} rc={last.rc} x={nope}' }]);
    const r = await ctl.continue();
    assert.equal(r.kind, 'stopped');
    assert.equal(valueOf(ctl.scope, 'c'), 1);
    assert.equal(evalCondition(ctl.scope, 'c >= 1'), true);
    assert.equal(evalCondition(ctl.scope, 'last.rc == EFAULT'), false);
    assert.equal(evalCondition(ctl.scope, 'gpu0.faults'), false);
    assert.equal(interpolate(ctl.scope, '{c}/{EINVAL}'), '1/-22');
    assert.deepEqual(out, ['c=0 rc=0 x={nope?}', 'c=1 rc=0 x={nope?}']);
    assert.equal(conditionProblem(''), 'empty condition');
    assert.match(conditionProblem('a[3] == 1') ?? '', /cannot evaluate 'a\[3\]'/);
    assert.equal(conditionProblem('stats.gpu0.faults > 0'), undefined);
  });

  it('checks event-breakpoint conditions against what the script declares', function () {
    const { ctl } = controller();
    const c = ctl.events.parseCondition('gpu0 a[2..6] write', 'deviceFault');
    assert.deepEqual([c.device, c.range, c.access, c.never], ['gpu0', 'a[2..6]', 'write', undefined]);
    assert.match(ctl.events.parseCondition('q[1]', 'deviceFault').never ?? '', /no device or mapping named q/);
    assert.match(ctl.events.parseCondition('a[5..2]', 'deviceFault').never ?? '', /empty range/);
    assert.match(ctl.events.parseCondition('CLEAR', 'deviceFault').never ?? '', /only Notifier invalidation/);
    assert.match(ctl.events.parseCondition('write', 'notifier').never ?? '', /has no read or write/);
    assert.deepEqual(ctl.setEventFilters([{ id: 'deviceFault', condition: 'q' }, { id: 'nope' }]).map((r) => r.verified), [false, false]);
  });

  it('a watch stops when its pages change, old → new, and can be removed by id', async function () {
    const { ctl } = controller();
    ctl.setLineBreakpoints([{ line: 7 }]);
    await ctl.continue();
    const w = ctl.addWatch('a[6]');
    assert.ok(typeof w !== 'string');
    const r = await ctl.continue();
    assert.equal(r.kind, 'stopped');
    if (r.kind !== 'stopped') return;
    assert.equal(r.stop.reason, 'data breakpoint');
    assert.deepEqual(r.stop.breakpointIds, [w.id]);
    assert.match(r.stop.description, /^a\[6\]: system rw → device gpu0 rw, gpu0 write$/);
    assert.equal(ctl.removeWatch(w.id), true);
    assert.equal(ctl.removeWatch(w.id), false);
    assert.equal((await ctl.continue()).kind, 'ended');
  });

  it('the REPL answers commands and values, and completes names', async function () {
    const { ctl } = controller();
    ctl.setLineBreakpoints([{ line: 8 }]);
    await ctl.continue();
    assert.match((evaluate(ctl, 'help', false) as { text: string }).text, /^page a\[3\]/);
    const page = evaluate(ctl, 'a[3]', false);
    assert.equal(page.kind, 'page');
    assert.equal(evaluate(ctl, 'a', false).kind, 'mapping');
    assert.equal(evaluate(ctl, 'gpu0', false).kind, 'device');
    assert.deepEqual(evaluate(ctl, 'last.cpages', false), { kind: 'text', text: '8' });
    assert.equal(evaluate(ctl, 'a[2..4]', false).kind, 'text');
    const w = evaluate(ctl, 'watch a[5]', false);
    assert.equal(w.kind, 'watch');
    assert.equal(ctl.dataWatches.length, 1);
    assert.equal(evaluate(ctl, 'unwatch', false).kind, 'unwatch');
    assert.equal(ctl.dataWatches.length, 0);
    assert.deepEqual(evaluate(ctl, 'nonsense', true), { kind: 'none' });
    assert.throws(() => evaluate(ctl, 'nonsense', false), /cannot evaluate 'nonsense': try 'help'/);
    assert.throws(() => evaluate(ctl, 'events 0', false), /N must be a whole number above 0/);
    assert.throws(() => evaluate(ctl, 'page b[1]', false), /b is not mapped yet/);
    assert.deepEqual(completions(ctl, 'wa', 3).map((c) => c.label), ['watch']);
    assert.deepEqual(completions(ctl, 'page g', 7), [{ label: 'gpu0', start: 5, length: 1 }]);
  });

  it('the views\' queries answer with numeric pages and process ids', async function () {
    const { ctl } = controller();
    ctl.setLineBreakpoints([{ line: 8 }]);
    await ctl.continue();
    const a = ctl.sim.bindings.get('a')!;
    const res = queries.residency(ctl, { mapping: 'a' });
    assert.deepEqual(res.mappings.map((m) => [m.name, m.process, m.processId, m.firstPage, m.pages]), [['a', 'main', 1, a.start, 8]]);
    assert.throws(() => queries.residency(ctl, { mapping: 'b' }), /no mapping b in main/);
    const n = queries.notifiers(ctl, {});
    assert.ok(n.callbacks.length > 0);
    for (const c of n.callbacks) {
      assert.equal(c.processId, 1);
      assert.equal(c.range, ctl.sim.describeRange(c.start, c.end));
    }
    const lines = queries.lineEffects(ctl).lines;
    assert.ok(lines.some((l) => l.line === 7 && l.pagesToDevice > 0), JSON.stringify(lines));
    assert.deepEqual(queries.migrations(ctl).migrations, []);
    assert.throws(() => queries.processArg(ctl, 'ghost'), /no process ghost/);
    assert.match(queries.pageWhy(ctl, { page: a.start + 3 }).text, /a\[3\]/);
  });

  it('threads and stacks: processes by id, a GPU job above them, kernel frames over the script\'s blocks', async function () {
    const { ctl } = controller('device gpu0\na = mmap 4 pages rw\nkernel k(x) {\n  read x\n}\nlaunch k(a) on gpu0\nwait all\n');
    assert.deepEqual(threads(ctl).map((t) => [t.id, t.name, t.processId]), [[1, 'main', 1]]);
    ctl.setLineBreakpoints([{ line: 7 }]);
    await ctl.continue();
    const ts = threads(ctl);
    assert.equal(ts.length, 2);
    assert.equal(ts[1]!.id, JOB_THREAD_BASE + ctl.sim.gpu.jobs[0]!.id);
    assert.equal(ts[1]!.processId, 1);
    assert.match(stackFrames(ctl, ts[1]!.id)[0]!.name, /^kernel k/);
    assert.equal(stoppedThread(ctl), 1);
    await ctl.stepIn();
    const frames = stackFrames(ctl, stoppedThread(ctl));
    assert.ok(frames.length >= 2, JSON.stringify(frames));
    assert.deepEqual(stackFrames(ctl, 4242).map((f) => f.label), [true]);
  });

  it('one run loop: Execution pauses at kernel frames and ends each statement as runStatement would', function () {
    const { script } = diagnose('t.hmm', SCRIPT);
    const stepped = new Interpreter(script);
    const ex = new Execution(stepped);
    const drained = new Interpreter(script);
    let frames = 0;
    for (;;) {
      if (stepped.nextStatement() === undefined) break;
      ex.begin();
      assert.equal(ex.inStatement, true);
      let p = ex.advance();
      while (p.kind !== 'ended') {
        if (p.kind === 'frame') frames++;
        assert.equal(ex.position.phase > 0, true);
        p = ex.advance();
      }
      const want = drained.runStatement();
      assert.equal(p.outcome.kind, want.kind);
    }
    assert.ok(frames > 0);
    assert.equal(stepped.sim.step, drained.sim.step);
    assert.equal(stepped.sim.log.events.length, drained.sim.log.events.length);
  });

  it('a budget stop thrown into a statement ends it with `stopped:`', function () {
    const { script } = diagnose('t.hmm', SCRIPT);
    const interp = new Interpreter(script);
    const ex = new Execution(interp);
    while (interp.nextStatement()?.kind !== 'migrate') {
      ex.begin();
      while (ex.advance().kind !== 'ended');
    }
    ex.begin();
    let p = ex.advance();
    assert.equal(p.kind, 'frame');
    p = ex.advance('time limit');
    assert.equal(p.kind, 'ended');
    if (p.kind === 'ended' && p.outcome.kind === 'error') assert.match(p.outcome.error.message, /^stopped: time limit/);
    else assert.fail(JSON.stringify(p));
  });
});
