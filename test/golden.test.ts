// Golden text: what a user sees at the README's device-fault stop (examples/02 at `gpu0 read a`),
// over real DAP: the stop, the call stack, the variables two levels deep, the REPL's answers and
// the data behind the HMM views, compared with test/golden/*.txt. A change in what users see
// then shows in review as a diff of those files. Volatile ids (variable references, frame ids)
// and paths are normalised. UPDATE_GOLDEN=1 rewrites the files (then read the diff).

import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { DebugClient } from '@vscode/debugadapter-testsupport';
import type { DebugProtocol } from '@vscode/debugprotocol';

const root = path.resolve(__dirname, '../..');
const adapter = path.join(root, 'dist/adapter.js');
const GOLDEN = path.join(root, 'test', 'golden');
const EXAMPLE = path.join(root, 'examples', '02-cpu-touches-migrated-page.hmm');
const REPL = ['help', 'page a[2]', 'why a[2]', 'residency a', 'events 12', 'report', 'a', 'a[2]', 'last.faults', 'stats.gpu0.faults', 'time'];

/** Compare with the checked-in file (or write it with UPDATE_GOLDEN=1). */
function golden(name: string, actual: string): void {
  const file = path.join(GOLDEN, name);
  if (process.env['UPDATE_GOLDEN'] === '1') {
    fs.mkdirSync(GOLDEN, { recursive: true });
    fs.writeFileSync(file, actual);
    return;
  }
  assert.ok(fs.existsSync(file), `${path.relative(root, file)} is missing: run with UPDATE_GOLDEN=1 and review it`);
  const expected = fs.readFileSync(file, 'utf8');
  if (actual !== expected) {
    const a = actual.split('\n');
    const e = expected.split('\n');
    const i = a.findIndex((l, k) => l !== e[k]);
    assert.fail(`${path.relative(root, file)} differs from line ${i + 1}:\n  expected: ${e[i] ?? '(end)'}\n  actual:   ${a[i] ?? '(end)'}\n(UPDATE_GOLDEN=1 rewrites it; review the diff)`);
  }
}

/** Paths and the machine's directory out of the text. */
const normalise = (text: string): string => text.split(root).join('<root>');

describe('golden text of the device-fault stop (what users see)', function () {
  this.timeout(30_000);
  let dc: DebugClient;

  before(function () {
    this.timeout(120_000);
    if (!fs.existsSync(adapter)) execFileSync('node', ['scripts/build.mjs'], { cwd: root, stdio: 'inherit' });
  });

  beforeEach(async () => {
    dc = new DebugClient('node', adapter, 'hmm');
    dc.defaultTimeout = 15_000;
    await dc.start();
  });

  afterEach(async () => {
    await dc.stop();
  });

  async function stopAtDeviceFault(): Promise<DebugProtocol.StoppedEvent['body']> {
    await dc.initializeRequest();
    const initialized = dc.waitForEvent('initialized');
    await dc.launchRequest({ program: EXAMPLE, eventBreakpoints: { deviceFault: '' } } as DebugProtocol.LaunchRequestArguments);
    await initialized;
    const stopped = dc.waitForEvent('stopped') as Promise<DebugProtocol.StoppedEvent>;
    await dc.configurationDoneRequest();
    return (await stopped).body;
  }

  /** Variables as an indented tree, `depth` levels below each scope; references left out. */
  async function variablesText(ref: number, depth: number, indent: string): Promise<string[]> {
    const out: string[] = [];
    const vars = (await dc.variablesRequest({ variablesReference: ref })).body.variables;
    for (const v of vars) {
      out.push(`${indent}${v.name} = ${v.value}${v.memoryReference ? ` [memory ${v.memoryReference}]` : ''}`);
      if (v.variablesReference > 0 && depth > 1) out.push(...await variablesText(v.variablesReference, depth - 1, `${indent}  `));
    }
    return out;
  }

  it('the stop, call stack and variables', async () => {
    const stop = await stopAtDeviceFault();
    const threadId = stop.threadId!;
    const lines = [`stop: reason ${stop.reason}; description ${stop.description}; text ${stop.text}`];
    const info = await dc.exceptionInfoRequest({ threadId });
    lines.push(`exceptionInfo: ${info.body.exceptionId}: ${info.body.description}`, ...(info.body.details?.stackTrace ?? '').split('\n').map((l) => `  ${l}`));
    lines.push('threads:', ...(await dc.threadsRequest()).body.threads.map((t) => `  ${t.name}`));
    const frames = (await dc.stackTraceRequest({ threadId })).body.stackFrames;
    lines.push('call stack:', ...frames.map((f) => `  ${f.name} (line ${f.line})`));
    const scopes = (await dc.scopesRequest({ frameId: frames[0]!.id })).body.scopes;
    for (const s of scopes) {
      lines.push(`scope ${s.name}`);
      lines.push(...await variablesText(s.variablesReference, 2, '  '));
    }
    golden('device-fault-stop.txt', normalise(`${lines.join('\n')}\n`));
  });

  it('the REPL\'s answers and the data behind the HMM views', async () => {
    const stop = await stopAtDeviceFault();
    const frameId = (await dc.stackTraceRequest({ threadId: stop.threadId! })).body.stackFrames[0]!.id;
    const lines: string[] = [];
    for (const expression of REPL) {
      const r = await dc.evaluateRequest({ expression, context: 'repl', frameId });
      lines.push(`> ${expression}`, r.body.result);
    }
    for (const command of ['hmm/residency', 'hmm/migrations', 'hmm/notifiers', 'hmm/lineEffects']) {
      const body: unknown = (await dc.customRequest(command)).body;
      lines.push(`${command}:`, JSON.stringify(body, null, 1));
    }
    golden('device-fault-repl.txt', normalise(`${lines.join('\n')}\n`));
  });
});
