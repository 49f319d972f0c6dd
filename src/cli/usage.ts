// What `hmm-sim --help` prints: shared by `run` (src/cli/hmmSim.ts) and the commands that use
// the kernel VM (src/cli/kernelMain.ts).

import { DEFAULT_MAX_MEMORY_BYTES } from '../hmm/lang/budget';

export const USAGE = `usage: hmm-sim run FILE... [--trace FILE.json] [--verbose] [--report] [--no-prefetcher]
                   [--timeout SECONDS] [--max-memory MIB]
                   [--linux mainline|6.12] [--kernel]
       hmm-sim differential [--count N] [--seed S] [--focus default|mremap]
                           [--weight KIND=N,...] [--shrink K] [--shrink-budget SECONDS] [--out DIR]

Runs .hmm scripts on the HMM simulator.
  --trace FILE.json   write the event stream (Chrome trace JSON; opens in Perfetto)
  --verbose           print each statement's events and the residency maps at the end
  --report            print the placement report (always printed when GPU work ran)
  --no-prefetcher     switch off the density prefetcher of fault-driven migrations
  --timeout SECONDS   stop a script that runs longer (a runtime error where it got to)
  --max-memory MIB    stop a script once the process uses more memory (default ${DEFAULT_MAX_MEMORY_BYTES / 2 ** 20})
  --linux VERSION     the kernel the simulator models: mainline (default) or 6.12
                      (a script's own \`linux\` line wins)
  --kernel            also run each script on Linux 6.12 in a VM (npm run kernel builds it)
                      and print every disagreement as file:line:col: … kernel: … / simulator: …
Exit status: 0 all scripts ran to the end (with --kernel: and agree with Linux on every
observation), 1 a runtime error, failed expectation or disagreement, 2 a script was rejected
before running (parse or check errors, unreadable file).

differential: random programs in the subset the kernel runs, on the simulator and in the VM;
each kind of disagreement is shrunk to a small script. --count 1000 by default; --seed is
random unless given (printed, so a run can be repeated); --focus mremap weights the generator
toward moving and resizing mremap over file, shared, hugetlb and device-file mappings (other
programs than the default's for the same seed); --weight fork=4,close=3,coherent=2 multiplies
those op kinds' (and coherent devices') share of the focus's distribution, 0 leaving one out
(kinds: read, write, mprotect, munmap, madvise, migDev, devRead, snapshot, exclusive,
checkExclusive, devWrite, migSys, release, close, pin, unpin, fork, exit, mremap, mresize,
coherent); --shrink kinds to shrink (8); --out DIR writes each disagreeing program and each
shrunk one there with the kernel's answers recorded (a regression file for
test/kernel-regress/). Exit status 0 all agree, 1 a disagreement.
With --kernel or differential, exit status 3: the VM itself failed (not a disagreement).

hmm-sim kernel build|selftest|exec ...: the real kernel in a VM (hmm-sim kernel --help).`;
