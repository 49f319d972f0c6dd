// Reads the TAP the kselftest harness prints (hmm-tests): one
// `ok N NAME[ # DIRECTIVE reason]` / `not ok N NAME` line per TEST_F instance.

export type TapStatus = 'pass' | 'fail' | 'skip' | 'xfail' | 'xpass';

export interface TapTest {
  readonly n: number;
  /** e.g. `hmm.hmm_device_private.open_close` (fixture.variant.test). */
  readonly name: string;
  readonly status: TapStatus;
  /** The text after the directive (a skip's reason), when any. */
  readonly reason?: string;
}

export interface TapReport {
  /** From `1..N`. */
  readonly plan?: number;
  readonly tests: readonly TapTest[];
  /** From `# Totals: pass:58 fail:0 …`. */
  readonly totals?: Readonly<Record<string, number>>;
}

const RESULT = /^(not )?ok (\d+) (.*?)(?: #\s*(SKIP|XFAIL|XPASS)?\s*(.*))?$/;

export function parseTap(text: string): TapReport {
  let plan: number | undefined;
  let totals: Record<string, number> | undefined;
  const tests: TapTest[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.replace(/\r$/, '');
    const p = /^1\.\.(\d+)$/.exec(line);
    if (p) {
      plan = Number(p[1]);
      continue;
    }
    const t = /^# Totals: (.*)$/.exec(line);
    if (t) {
      totals = {};
      for (const kv of t[1]!.trim().split(/\s+/)) {
        const [k, v] = kv.split(':');
        if (k !== undefined && v !== undefined && /^\d+$/.test(v)) totals[k] = Number(v);
      }
      continue;
    }
    const m = RESULT.exec(line);
    if (!m) continue;
    const directive = m[4];
    const status: TapStatus = m[1] ? 'fail'
      : directive === 'SKIP' ? 'skip' : directive === 'XFAIL' ? 'xfail' : directive === 'XPASS' ? 'xpass' : 'pass';
    const reason = m[5]?.trim();
    tests.push({ n: Number(m[2]), name: m[3]!, status, ...(reason ? { reason } : {}) });
  }
  return { ...(plan !== undefined ? { plan } : {}), tests, ...(totals ? { totals } : {}) };
}
