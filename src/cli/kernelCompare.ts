// `hmm-sim run --kernel FILE...` and `hmm-sim differential`: what they print and their exit status.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { compareWithKernel, type ProgramRunner } from '../oracle/kernelRun';
import { differential, type Focus, type OpWeights, weightsText } from '../oracle/differential';
import { formatDiagnostic } from '../hmm/lang/ast';

export interface Out {
  readonly log: (line: string) => void;
  readonly err: (line: string) => void;
}

/**
 * Exit status: 0 every script agrees with the kernel on every observation (scripts the kernel
 * cannot run at all count as agreeing, and say so; a kernel oops or hang both sides had is an
 * agreement), 1 a disagreement, a failed expectation, another runtime error or an incomplete
 * comparison, 2 a script was rejected.
 */
export async function runKernelCompare(scripts: readonly { file: string; text: string }[], run: ProgramRunner, out: Out): Promise<number> {
  const t0 = Date.now();
  const c = await compareWithKernel(scripts, run);
  const counts = { agree: 0, disagree: 0, 'not expressible': 0, rejected: 0 };
  let failed = 0;
  c.judgements.forEach((j, i) => {
    const t = c.translations[i]!;
    counts[j.verdict]++;
    for (const d of t.diagnostics) out.err(formatDiagnostic(d));
    for (const d of j.disagreements) out.log(d.text);
    for (const p of j.problems) out.err(`${j.file}: ${p}`);
    for (const n of t.notes) out.log(`${j.file}: note: ${n}`);
    // The simulator stopped on a kernel oops or hang that Linux had too: the comparison's answer,
    // not a failure (kernel regressions end so).
    const last = t.ops[t.ops.length - 1]?.sim;
    const confirmedStop = j.verdict === 'agree' && (last?.crash !== undefined || last?.hang !== undefined);
    if (t.simError !== undefined) out.err(`${t.simError} (simulator${confirmedStop ? '; Linux too' : ''})`);
    if (t.simulatorOnly > 0 && j.verdict !== 'rejected') out.log(`${j.file}: ${t.simulatorOnly} statement(s) only the simulator checks (expect, print, compute, hints)`);
    out.log(`${j.file}: ${j.summary}`);
    if (j.verdict === 'disagree' || (t.simError !== undefined && !confirmedStop) || j.problems.length > 0) failed++;
  });
  const n = scripts.length;
  out.log(`hmm-sim --kernel: ${n} script${n === 1 ? '' : 's'}: ${counts.agree} agree, ${counts.disagree} disagree, ` +
    `${counts['not expressible']} not expressible, ${counts.rejected} rejected; ${c.boots} boot${c.boots === 1 ? '' : 's'}, ` +
    `${(c.vmMs / 1000).toFixed(1)} s in the VM, ${((Date.now() - t0) / 1000).toFixed(1)} s in all`);
  return counts.rejected > 0 ? 2 : failed > 0 ? 1 : 0;
}

export interface DifferentialArgs {
  readonly count: number;
  readonly seed: number;
  readonly focus?: Focus;
  /** The generator's weights (--weight): factors over the focus's shares. */
  readonly weights?: OpWeights;
  readonly maxShrinks: number;
  readonly shrinkBudgetMs?: number;
  /** Write every disagreeing program and every shrunk one here, as regression files. */
  readonly outDir?: string;
}

/** Exit status: 0 always agreed, 1 a disagreement (each kind printed shrunk). */
export async function runDifferentialCommand(a: DifferentialArgs, run: ProgramRunner, out: Out): Promise<number> {
  const r = await differential({ seed: a.seed, count: a.count, focus: a.focus, weights: a.weights, maxShrinks: a.maxShrinks, shrinkBudgetMs: a.shrinkBudgetMs, log: out.log }, run);
  const written: string[] = [];
  const write = (name: string, text: string | undefined): void => {
    if (a.outDir === undefined || text === undefined) return;
    const file = path.join(a.outDir, name);
    fs.mkdirSync(a.outDir, { recursive: true });
    fs.writeFileSync(file, text);
    written.push(file);
  };
  const slug = (sig: string): string => sig.replace(/[^A-Za-z0-9_-]+/g, '-').slice(0, 60);
  for (const f of r.found) write(`found-${r.seed}-${f.index}-${slug(f.signature)}.hmm`, f.regression);
  r.shrunk.forEach((s, k) => {
    out.log('');
    if (s.alone) {
      out.log(`== ${s.signature}: ${s.programs} program(s); shrunk from ${s.ops.from} to ${s.ops.to} ops`);
      out.log(s.disagreement);
      out.log(s.script.trimEnd().split('\n').map((l) => `  ${l}`).join('\n'));
      write(`shrunk-${r.seed}-${k + 1}-${slug(s.signature)}.hmm`, s.regression);
    } else {
      out.log(`== ${s.signature}: ${s.programs} program(s); not reproduced alone: it disagrees only after what the programs before it in ` +
        'its boot left in the kernel, which the simulator did not predict (the found-*.hmm files and the seed reproduce it)');
    }
  });
  if (written.length > 0) {
    out.log('');
    out.log(`wrote ${written.length} regression file(s) to ${a.outDir}: copy a shrunk one to test/kernel-regress/ (test/kernelRegress.test.ts judges it without a VM)`);
  }
  const others = [...r.bySignature].filter(([sig]) => !r.shrunk.some((s) => s.signature === sig));
  if (others.length > 0) out.log(`not shrunk: ${others.map(([sig, n]) => `${sig} (${n})`).join(', ')}`);
  out.log(`coverage (agreeing programs that ran it on Linux): ${[...r.coverage].map(([f, n]) => `${f} ${n}`).join(', ')}`);
  const compared = r.agreed + r.disagreed;
  const rate = compared === 0 ? 0 : (100 * r.agreed) / compared;
  const w = weightsText(a.weights ?? {});
  out.log(`hmm-sim differential: seed ${r.seed}${a.focus === undefined || a.focus === 'default' ? '' : ` (focus ${a.focus})`}${w === '' ? '' : ` (--weight ${w})`}: ${r.count} programs, ${r.agreed} agree, ${r.disagreed} disagree ` +
    `(${r.crashes} kernel crashes, ${r.hangs} hangs), ${r.empty} with nothing to compare; agreement ${rate.toFixed(1)} %; ` +
    `${r.boots} boots, ${(r.vmMs / 1000).toFixed(1)} s in the VM`);
  return r.disagreed > 0 ? 1 : 0;
}
