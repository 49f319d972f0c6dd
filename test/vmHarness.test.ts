// Layer: tests of the kernel oracle's VM harness without a VM (src/oracle): the TAP of hmm-tests,
// the cpio archive carrying a program, program splitting, the runner's result stream and how a
// boot that ends in an oops or hang is accounted for. The VM itself: test/kernel/*.vmtest.ts.

import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { KernelNotBuiltError, loadArtifacts, parseManifest, projectRoot, sourcesHash, type KernelArtifacts } from '../src/oracle/artifacts';
import { newcArchive } from '../src/oracle/cpio';
import { joinProgram, splitProgram } from '../src/oracle/program';
import { accountBoot, extractOops, parseResultStream } from '../src/oracle/results';
import { parseTap } from '../src/oracle/tap';
import { kernelCommandLine, qemuArgs, runProgram } from '../src/oracle/vm';

/** Reads a newc archive back: name → data (the trailer excluded). */
function readNewc(buf: Buffer): Map<string, Buffer> {
  const files = new Map<string, Buffer>();
  let off = 0;
  const align = (n: number): number => (n + 3) & ~3;
  for (;;) {
    assert.equal(buf.toString('ascii', off, off + 6), '070701', `magic at ${off}`);
    const field = (i: number): number => parseInt(buf.toString('ascii', off + 6 + 8 * i, off + 14 + 8 * i), 16);
    const size = field(6);
    const nameSize = field(11);
    const name = buf.toString('utf8', off + 110, off + 110 + nameSize - 1);
    const dataOff = align(off + 110 + nameSize);
    if (name === 'TRAILER!!!') return files;
    files.set(name, buf.subarray(dataOff, dataOff + size));
    off = align(dataOff + size);
  }
}

describe('oracle: hmm-tests TAP', () => {
  const tap = [
    'TAP version 13',
    '1..4',
    '# Starting 4 tests from 2 test cases.',
    '#  RUN           hmm.hmm_device_private.open_close ...',
    '#            OK  hmm.hmm_device_private.open_close',
    'ok 1 hmm.hmm_device_private.open_close',
    'ok 2 hmm.hmm_device_coherent.open_close # SKIP could not open hmm dmirror driver (/dev/hmm_dmirror2)',
    'not ok 3 hmm.hmm_device_private.anon_read',
    'ok 4 hmm2.hmm2_device_private.migrate_mixed #  took 3 ms\r',
    '# FAILED: 2 / 4 tests passed.',
    '# Totals: pass:2 fail:1 xfail:0 xpass:0 skip:1 error:0',
  ].join('\n');

  it('reads the plan, each result with its status and reason, and the totals', () => {
    const r = parseTap(tap);
    assert.equal(r.plan, 4);
    assert.deepEqual(r.tests.map((t) => [t.n, t.name, t.status]), [
      [1, 'hmm.hmm_device_private.open_close', 'pass'],
      [2, 'hmm.hmm_device_coherent.open_close', 'skip'],
      [3, 'hmm.hmm_device_private.anon_read', 'fail'],
      [4, 'hmm2.hmm2_device_private.migrate_mixed', 'pass'],
    ]);
    assert.equal(r.tests[1]!.reason, 'could not open hmm dmirror driver (/dev/hmm_dmirror2)');
    assert.equal(r.tests[3]!.reason, 'took 3 ms');
    assert.deepEqual(r.totals, { pass: 2, fail: 1, xfail: 0, xpass: 0, skip: 1, error: 0 });
  });

  it('has no plan when hmm-tests never started', () => {
    const r = parseTap('# hmm-init: hmm-tests exit 127\n');
    assert.equal(r.plan, undefined);
    assert.equal(r.tests.length, 0);
  });
});

describe('oracle: cpio (newc) archive', () => {
  it('holds the files byte for byte and ends with the trailer on a 512-byte boundary', () => {
    const prog = Buffer.from('hmm-runner-program 1\ncase a\nend\n');
    const odd = Buffer.from([1, 2, 3]);
    const a = newcArchive([{ name: 'prog.txt', data: prog }, { name: 'x/odd', data: odd, mode: 0o755 }]);
    assert.equal(a.length % 512, 0);
    const files = readNewc(a);
    assert.deepEqual([...files.keys()], ['prog.txt', 'x/odd']);
    assert.ok(files.get('prog.txt')!.equals(prog));
    assert.ok(files.get('x/odd')!.equals(odd));
    // mode of the second entry: regular file 0755
    const second = a.indexOf('070701', 6);
    assert.equal(parseInt(a.toString('ascii', second + 14, second + 22), 16), 0o100755);
  });

  it('rejects absolute and empty names', () => {
    assert.throws(() => newcArchive([{ name: '/prog.txt', data: Buffer.alloc(0) }]), /bad file name/);
    assert.throws(() => newcArchive([{ name: '', data: Buffer.alloc(0) }]), /bad file name/);
  });
});

describe('oracle: runner programs', () => {
  const text = [
    'hmm-runner-program 1', '# comment', '',
    'case a', 'op 1 0 mmap 0x100000000 8 rw private 0', 'op 2 0 read 0x100000000 8', 'end',
    'case b', 'file f 1 0', 'op 3 0 dev 0 migrate 0x100000000 8', 'end', '',
  ].join('\n');

  it('splits into cases with their op numbers and joins back', () => {
    const cases = splitProgram(text);
    assert.deepEqual(cases.map((c) => [c.id, c.ops]), [['a', [1, 2]], ['b', [3]]]);
    assert.equal(cases[1]!.lines[1], 'file f 1 0');
    assert.deepEqual(splitProgram(joinProgram(cases)), cases);
    assert.ok(joinProgram(cases.slice(1)).startsWith('hmm-runner-program 1\ncase b\n'));
  });

  it('rejects a broken frame with the line', () => {
    assert.throws(() => splitProgram('case a\nend\n'), /line 1: the program must start/);
    assert.throws(() => splitProgram('hmm-runner-program 1\nop 1 0 exit\n'), /line 2: 'op' outside a case/);
    assert.throws(() => splitProgram('hmm-runner-program 1\ncase a\ncase b\n'), /line 3: case before the 'end'/);
    assert.throws(() => splitProgram('hmm-runner-program 1\ncase a\nend\ncase a\nend\n'), /case a twice/);
    assert.throws(() => splitProgram('hmm-runner-program 1\ncase a\nop 1 0 exit\nop 1 0 exit\nend\n'), /op 1 twice/);
    assert.throws(() => splitProgram('hmm-runner-program 1\ncase a\n'), /case a has no 'end'/);
    assert.throws(() => splitProgram(''), /empty/);
  });
});

describe('oracle: result stream and crash bookkeeping', () => {
  const program = splitProgram([
    'hmm-runner-program 1',
    'case a', 'op 1 0 read 0x100000000 1', 'end',
    'case b', 'op 2 0 dev 0 migrate 0x100000000 8', 'op 3 0 read 0x100004000 1', 'op 4 0 dev 0 read 0x100000000 8', 'end',
    'case c', 'op 5 0 read 0x100000000 1', 'end',
  ].join('\n'));
  const console = [
    '[    1.0] Run /init as init process',
    '[    2.5] BUG: unable to handle page fault for address: ffff888040000000',
    '[    2.5] #PF: supervisor read access in kernel mode',
    '[    2.5] RIP: 0010:dmirror_do_read+0x6a/0x140',
    '[    2.5] Kernel panic - not syncing: Fatal exception',
  ].join('\r\n');
  const crashed = [
    'hmm-runner 1', 'case a', 'at 1', 'r 1 rc=0 words=0:1:0:0', 'done a',
    'case b', 'at 2', 'r 2 rc=0 cpages=8 faults=0 data=0:8192:0:0', 'at 3', 'r 3 rc=0 words=0:1:0:0', 'at 4', '',
  ].join('\n');

  it('parses cases, replies, the op in flight, hang and bye', () => {
    const s = parseResultStream(crashed);
    assert.ok(s.header);
    assert.equal(s.bye, false);
    assert.deepEqual(s.cases.map((c) => [c.id, c.done, c.pending, c.lines.length]), [['a', true, undefined, 1], ['b', false, 4, 2]]);
    const h = parseResultStream('hmm-runner 1\ncase a\nat 1\nhang 1\n');
    assert.equal(h.cases[0]!.hang, 1);
    assert.equal(h.cases[0]!.pending, undefined);
  });

  it('an oops in op 4 ends case b with the oops lines; case c is left for the next boot', () => {
    const acc = accountBoot(program, { results: crashed, console, timedOut: false });
    assert.deepEqual(acc.finished.map((c) => c.id), ['a', 'b']);
    assert.equal(acc.finished[0]!.crash, undefined);
    const b = acc.finished[1]!;
    assert.equal(b.crash?.op, 4);
    assert.match(b.crash!.oops[0]!, /BUG: unable to handle page fault/);
    assert.ok(b.crash!.oops.some((l) => l.includes('dmirror_do_read')));
    assert.deepEqual(b.lines, ['r 2 rc=0 cpages=8 faults=0 data=0:8192:0:0', 'r 3 rc=0 words=0:1:0:0']);
    assert.deepEqual(acc.remaining.map((c) => c.id), ['c']);
  });

  it('the next boot finishes case c', () => {
    const acc = accountBoot(program.slice(2), { results: 'hmm-runner 1\ncase c\nat 5\nr 5 rc=0\ndone c\nbye\n', console: '', timedOut: false });
    assert.deepEqual(acc.finished.map((c) => [c.id, c.lines]), [['c', ['r 5 rc=0']]]);
    assert.equal(acc.remaining.length, 0);
  });

  it('a runner hang and a wall-clock time-out are hangs of the op in flight', () => {
    const hang = accountBoot(program, { results: 'hmm-runner 1\ncase a\nat 1\nhang 1\n', console: '', timedOut: false });
    assert.deepEqual(hang.finished[0]!.hang, { op: 1 });
    assert.equal(hang.remaining.length, 2);
    const wall = accountBoot(program, { results: 'hmm-runner 1\ncase a\nat 1\n', console: '', timedOut: true });
    assert.deepEqual(wall.finished[0]!.hang, { op: 1 });
  });

  it('a crash after the last reply (the processes exiting) is op -1', () => {
    const acc = accountBoot(program, { results: 'hmm-runner 1\ncase a\nat 1\nr 1 rc=0\n', console, timedOut: false });
    assert.equal(acc.finished[0]!.crash?.op, -1);
  });

  it('a boot without progress, a rejected program or a case out of order is a harness error', () => {
    assert.throws(() => accountBoot(program, { results: '', console: 'Kernel panic - not syncing: VFS', timedOut: false }), /never started/);
    assert.throws(() => accountBoot(program, { results: 'hmm-runner 1\nbad 0 line 3: unknown op\n', console: '', timedOut: false }), /rejected the program/);
    assert.throws(() => accountBoot(program, { results: 'hmm-runner 1\ncase b\n', console: '', timedOut: false }), /case b where case a/);
    assert.throws(() => accountBoot(program, { results: 'hmm-runner 1\ncase a\ndone a\nbye\n', console: '', timedOut: false }), /bye after 1 of 3/);
  });

  it('takes the oops from its first line, else the console tail', () => {
    assert.equal(extractOops(console)[0], '[    2.5] BUG: unable to handle page fault for address: ffff888040000000');
    assert.deepEqual(extractOops('a\nb\n'), ['a', 'b']);
  });
});

describe('oracle: QEMU command line and manifest', () => {
  it('passes the coherent devices and the literal $ of memmap, mode and op limit', () => {
    const c = kernelCommandLine('runner', 2500);
    assert.match(c, /memmap=512M\$0x40000000 test_hmm\.spm_addr_dev0=0x40000000 test_hmm\.spm_addr_dev1=0x50000000/);
    assert.match(c, /oops=panic panic=-1 norandmaps/);
    assert.match(c, /hmm\.mode=runner hmm\.op_limit_ms=2500$/);
    const args = qemuArgs({ bzImage: '/k/bz', initrd: '/k/i', consoleFile: '/t/c', resultsFile: '/t/r' }, c, 'tcg');
    assert.deepEqual(args.slice(args.indexOf('-serial')), ['-serial', 'file:/t/c', '-serial', 'file:/t/r']);
    assert.ok(args.includes('-no-reboot'));
    assert.equal(args[args.indexOf('-append') + 1], c);
    assert.throws(() => qemuArgs({ bzImage: 'b', initrd: 'i', consoleFile: '/a,b', resultsFile: 'r' }, c, 'tcg'), /comma/);
  });

  it('reads a manifest and says how to build when it is not one', () => {
    const m = { format: 1, debianVersion: 'v', kernelRelease: '6.12.118', kernelKey: 'k', configHash: 'c', userKey: 'u', sourcesHash: 's',
      bzImage: '/b', initramfs: '/i', runner: '/r', hmmTests: '/h', source: '/s' };
    assert.equal(parseManifest(JSON.stringify(m), 'm.json').bzImage, '/b');
    assert.throws(() => parseManifest('{', 'm.json'), (e: Error) => e instanceof KernelNotBuiltError && /npm run kernel/.test(e.message));
    assert.throws(() => parseManifest(JSON.stringify({ ...m, runner: '' }), 'm.json'), /has no runner/);
    assert.throws(() => parseManifest(JSON.stringify({ ...m, format: 2 }), 'm.json'), /format 2/);
  });

  it('refuses a build made from another checkout\'s runner sources (the cache is shared)', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hmm-manifest-'));
    try {
      const file = path.join(dir, 'f');
      fs.writeFileSync(file, 'x');
      const m = { format: 1, debianVersion: 'v', kernelRelease: 'r', kernelKey: 'k', configHash: 'c', userKey: 'u',
        sourcesHash: sourcesHash(projectRoot()), bzImage: file, initramfs: file, runner: file, hmmTests: file, source: dir };
      const env = { HMM_KERNEL_CACHE: dir };
      fs.writeFileSync(path.join(dir, 'current.json'), JSON.stringify(m));
      assert.equal(loadArtifacts(env).runner, file);
      fs.writeFileSync(path.join(dir, 'current.json'), JSON.stringify({ ...m, sourcesHash: '000000000000' }));
      assert.throws(() => loadArtifacts(env), /built from another kernel\/hmm-runner\.c or kernel\/init .*npm run kernel/);
      fs.rmSync(path.join(dir, 'current.json'));
      assert.throws(() => loadArtifacts(env), /no .*current\.json.*npm run kernel/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('oracle: runProgram with a stand-in for QEMU', function () {
  this.timeout(30000);
  let dir = '';
  let artifacts: KernelArtifacts;

  /**
   * A fake qemu-system-x86_64: writes a result stream to the second -serial file and a console to
   * the first, chosen by which cases the appended program holds, then exits or hangs.
   */
  function fakeQemu(): string {
    const file = path.join(dir, 'qemu.sh');
    fs.writeFileSync(file, `#!/bin/sh
files=""; initrd=""
while [ $# -gt 0 ]; do
  case "$1" in
    -serial) files="$files \${2#file:}"; shift ;;
    -initrd) initrd=$2; shift ;;
  esac
  shift
done
set -- $files
if grep -q "^case a$" "$initrd"; then
  printf 'hmm-runner 1\\ncase a\\nat 1\\nr 1 rc=0\\ndone a\\ncase b\\nat 2\\n' > "$2"
  printf 'Run /init\\nBUG: unable to handle page fault\\nRIP: 0010:dmirror_do_read+0x6a\\n' > "$1"
  exit 0
fi
if grep -q "^case p$" "$initrd" || grep -q "^case q$" "$initrd"; then
  # The guest panics before the runner starts: twice for case p, always for case q.
  n=$(cat "$(dirname "$0")/panics" 2>/dev/null || echo 0); echo $((n + 1)) > "$(dirname "$0")/panics"
  if grep -q "^case q$" "$initrd" || [ "$n" -lt 2 ]; then
    printf "Kernel panic - not syncing: IO-APIC + timer doesn't work!\\n" > "$1"; : > "$2"; exit 0
  fi
  printf 'hmm-runner 1\\ncase p\\nat 1\\nr 1 rc=0\\ndone p\\nbye\\n' > "$2"
  exit 0
fi
if grep -q "^case c$" "$initrd"; then
  printf 'hmm-runner 1\\ncase c\\nat 3\\n' > "$2"
  exec sleep 60
fi
exit 1
`, { mode: 0o755 });
    return file;
  }

  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hmm-fakevm-'));
    const f = (n: string): string => {
      fs.writeFileSync(path.join(dir, n), 'x');
      return path.join(dir, n);
    };
    artifacts = { debianVersion: 'v', kernelRelease: 'r', kernelKey: 'k', configHash: 'c', userKey: 'u', sourcesHash: 's',
      bzImage: f('bzImage'), initramfs: f('initramfs.cpio'), runner: f('runner'), hmmTests: f('hmm-tests'), source: dir };
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('an oops ends its case and the next boot runs the rest; a stalled VM is killed and its op is a hang', async () => {
    const r = await runProgram([
      'hmm-runner-program 1',
      'case a', 'op 1 0 mmap 0x200000000 1 rw private 0', 'end',
      'case b', 'op 2 0 dev 0 read 0x200000000 8', 'end',
      'case c', 'op 3 0 dev 0 release', 'end',
    ].join('\n'), { artifacts, qemu: fakeQemu(), accel: 'tcg', stallMs: 1500 });
    assert.equal(r.boots, 2);
    assert.deepEqual([...r.cases.keys()], ['a', 'b', 'c']);
    assert.deepEqual(r.cases.get('a'), { id: 'a', lines: ['r 1 rc=0'] });
    assert.equal(r.cases.get('b')!.crash?.op, 2);
    assert.deepEqual(r.cases.get('b')!.crash?.oops, ['BUG: unable to handle page fault', 'RIP: 0010:dmirror_do_read+0x6a']);
    assert.deepEqual(r.cases.get('c')!.hang, { op: 3 });
  });

  it('a boot whose runner never starts is booted again, twice at most; then it is an error', async () => {
    const r = await runProgram('hmm-runner-program 1\ncase p\nop 1 0 dev 0 release\nend\n', { artifacts, qemu: fakeQemu(), accel: 'tcg' });
    assert.equal(r.boots, 3);
    assert.deepEqual(r.cases.get('p'), { id: 'p', lines: ['r 1 rc=0'] });
    await assert.rejects(runProgram('hmm-runner-program 1\ncase q\nop 1 0 dev 0 release\nend\n', { artifacts, qemu: fakeQemu(), accel: 'tcg' }),
      /the runner never started .*IO-APIC/s);
  });

  it('a QEMU that fails is an error naming it', async () => {
    await assert.rejects(runProgram('hmm-runner-program 1\ncase z\nend\n', { artifacts, qemu: fakeQemu(), accel: 'tcg' }), /qemu\.sh failed \(exit 1\)/);
    await assert.rejects(runProgram('hmm-runner-program 1\ncase z\nend\n', { artifacts, qemu: path.join(dir, 'none'), accel: 'tcg' }), /cannot run/);
  });
});
