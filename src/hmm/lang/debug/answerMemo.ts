// The debugger's answers at one position of the machine: the views ask the same questions
// several times a stop (the Variables view, the residency tree, the map, the decorations), and
// at a million resident pages each answer still combines 2048 page tables' cached runs. The
// controller's epoch changes whenever the machine may have (a unit run or replayed, a reset, a
// memory write), so an answer kept for an epoch is exactly what asking again would give.

/** Answers kept per epoch, at most this many (one per question asked at a stop). */
const MAX_ANSWERS = 64;

export class AnswerMemo {
  private epoch = -1;
  private readonly answers = new Map<string, unknown>();

  /** The answer to `key` at `epoch`: kept, or made now. Callers must not change what they get. */
  get<T>(epoch: number, key: string, make: () => T): T {
    if (epoch !== this.epoch) {
      this.answers.clear();
      this.epoch = epoch;
    }
    if (this.answers.has(key)) return this.answers.get(key) as T;
    const answer = make();
    if (this.answers.size < MAX_ANSWERS) this.answers.set(key, answer);
    return answer;
  }
}
