// What a script may be, so that every tool answers in bounded time and memory: the parser
// refuses nesting past these depths with a diagnostic (the checker, interpreter and pattern
// compiler recurse over the tree, so a bounded tree keeps them off the JavaScript stack's end),
// and the front ends refuse script files past the size.

/** Blocks (`repeat`, `fn`, `kernel`, `fork {`, `as`) inside one another. */
export const MAX_BLOCK_DEPTH = 64;

/** Depth of one expression's tree: parentheses, unary minus and operator chains all count. */
export const MAX_EXPR_DEPTH = 256;

/** A script file larger than this is refused before it is read (1 MiB). */
export const MAX_SCRIPT_BYTES = 2 ** 20;
