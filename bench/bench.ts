// `npm run bench`: speed and memory figures of the simulator, printed (never asserted).
// Figures: mapping 64 GiB untouched, writing / migrating 1M pages (4 GiB) to a device and back,
// a CPU touch of 64k device pages (one migrate_to_ram each), the conformance suite.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { Interpreter } from '../src/hmm/lang/interpreter';
import { parseScript } from '../src/hmm/lang/parser';
import { runScriptText } from '../src/hmm/lang/runner';
import { Simulator } from '../src/hmm/simulator';

interface Timed {
  ms: number;
  heapMiB: number;
}

function interp(text: string): { it: Interpreter; sim: Simulator } {
  const parsed = parseScript('bench.hmm', text);
  if (parsed.diagnostics.length > 0) throw new Error(parsed.diagnostics.map((d) => d.message).join('\n'));
  const sim = new Simulator();
  return { it: new Interpreter(parsed.script, { sim }), sim };
}

function stepTimed(it: Interpreter): Timed {
  const t0 = process.hrtime.bigint();
  const r = it.step();
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (r.kind === 'error') throw new Error(r.error.formatted);
  return { ms, heapMiB: process.memoryUsage().heapUsed / 2 ** 20 };
}

function fmt(n: number, digits = 1): string {
  return n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
}

function row(name: string, value: string, note = ''): void {
  console.log(`${name.padEnd(44)} ${value.padStart(18)}  ${note}`);
}

function main(): void {
  console.log(`hmm-sim benchmark — node ${process.version}, ${new Date().toISOString()}`);
  console.log('-'.repeat(90));

  // 1. Untouched pages cost nothing.
  {
    const { it, sim } = interp('big = mmap 64 GiB rw\n');
    const before = sim.bytesUsed;
    const t = stepTimed(it);
    row('mmap 64 GiB (16,777,216 pages)', `${fmt(t.ms, 3)} ms`, `simulator bytes added: ${sim.bytesUsed - before}`);
  }

  // 2. 1M pages: write, migrate to the device, migrate back.
  {
    const pages = 1 << 20;
    const { it, sim } = interp(`device gpu0 private memory 8 GiB\na = mmap ${pages} pages rw\nwrite a = i\nmigrate a to gpu0\nmigrate a to system\nexpect a == i\n`);
    stepTimed(it);
    stepTimed(it);
    const base = sim.bytesUsed;
    const w = stepTimed(it);
    const touched = sim.bytesUsed;
    row('CPU write 1M pages (4 GiB)', `${fmt(w.ms)} ms`, `${fmt(pages / (w.ms / 1000) / 1e6, 2)} M pages/s`);
    row('  bytes per touched page', `${fmt((touched - base) / pages)} B`, `(frames + page tables; data kept as patterns)`);
    const to = stepTimed(it);
    row('migrate 1M pages to device (migrate_vma)', `${fmt(to.ms)} ms`, `${fmt(pages / (to.ms / 1000) / 1e6, 2)} M pages/s`);
    const back = stepTimed(it);
    row('migrate 1M pages back to system', `${fmt(back.ms)} ms`, `${fmt(pages / (back.ms / 1000) / 1e6, 2)} M pages/s`);
    row('  round trip 1M pages', `${fmt(to.ms + back.ms)} ms`, `ratio to 1 s goal: ${fmt((to.ms + back.ms) / 1000, 3)}`);
    const chk = stepTimed(it);
    row('expect a == i over 1M pages', `${fmt(chk.ms)} ms`, 'symbolic compare, no word evaluated');
    row('  heap after', `${fmt(chk.heapMiB)} MiB`, `events recorded: ${sim.log.events.length}`);
  }

  // 3. Per-page CPU faults on device memory.
  {
    const pages = 65536;
    const { it } = interp(`device gpu0\na = mmap ${pages} pages rw\nwrite a = i\nmigrate a to gpu0\nread a\n`);
    for (let i = 0; i < 4; i++) stepTimed(it);
    const t = stepTimed(it);
    row('CPU read of 64k device pages (migrate_to_ram)', `${fmt(t.ms)} ms`, `${fmt(pages / (t.ms / 1000) / 1e3, 1)} k faults/s`);
  }

  // 4. The conformance suite.
  {
    const dir = path.resolve(__dirname, '../test/conformance');
    const files = fs.readdirSync(dir).filter((f) => f.endsWith('.hmm'));
    const t0 = Date.now();
    let failed = 0;
    for (const f of files) {
      const r = runScriptText(f, fs.readFileSync(path.join(dir, f), 'utf8'));
      if (r.error || r.diagnostics.length) failed++;
    }
    row(`conformance suite (${files.length} scripts)`, `${Date.now() - t0} ms`, failed ? `${failed} FAILED` : 'all passed');
  }
}

main();
