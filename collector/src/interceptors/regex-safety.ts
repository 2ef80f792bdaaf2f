/**
 * Whether a regular expression can backtrack for exponential time: a group repeated without bound
 * that itself contains an unbounded repetition (`(a+)+`, `(\w*x)*`). Such a pattern on the ingest
 * path lets one event stall the collector, so config refuses it. Optional parts (`?`, `{0,1}`) are
 * not repetitions here: `(?: code=(\d+))?` is fine. The pattern is parsed with `ret` (the parser
 * safe-regex2 uses); a pattern it cannot parse is left to the RegExp compiler.
 */
import ret, { types, type Root, type Tokens } from 'ret';

// A CommonJS module whose module.exports is the tokenizer itself: the default import is that
// function under Node's interop, or an object holding it as `default` under other bundlers.
type Tokenize = (source: string) => Root;
const tokenize: Tokenize = typeof ret === 'function' ? (ret as unknown as Tokenize) : (ret as unknown as { default: Tokenize }).default;

export function nestedRepetition(source: string): boolean {
  let root: Root;
  try {
    root = tokenize(source);
  } catch {
    return false;
  }
  const walk = (token: Tokens, depth: number): boolean => {
    if (token.type === types.REPETITION) {
      const unbounded = token.max === null || token.max === Infinity || token.max > 1;
      if (unbounded && depth >= 1) return true;
      return walk(token.value, unbounded ? depth + 1 : depth);
    }
    if ('options' in token && token.options) return token.options.some((stack) => stack.some((t) => walk(t, depth)));
    if ('stack' in token && token.stack) return token.stack.some((t) => walk(t, depth));
    return false;
  };
  return walk(root, 0);
}
