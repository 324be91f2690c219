// One way to make a string that came from outside (a file's column names, a path, a client's
// message, a DuckDB error quoting either) safe to put in a message or a log line. Browser-safe.
//
// A raw control byte in a message is an attack on whoever reads it: ESC starts a terminal escape
// sequence (retitle the window, rewrite the screen, on some terminals worse), CR and LF forge log
// lines, C1 controls are escape introducers too (U+009B is CSI), and the bidirectional overrides
// make a terminal or a browser show text in another order than it is (a path that reads
// `txt.exe` is `exe.txt`). Lone surrogates are not text at all and break UTF-8 encoders
// downstream. Each is replaced by its escape (`\x1b`, `\u{202e}`), so the reader sees that it was
// there and which one it was; everything else, accented letters and CJK included, is kept.

/** C0 and C1 controls and DEL; bidi marks, embeddings, overrides and isolates; line/paragraph separators; lone surrogates. */
const UNPRINTABLE = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

/** Longest text kept by default: a message quoting a hostile name stays a message, not a dump. */
export const DEFAULT_PRINTABLE_CHARS = 4096;

function escapeOf(ch: string): string {
  const code = ch.charCodeAt(0);
  return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u{${code.toString(16)}}`;
}

/**
 * `text` with every control, bidi and lone-surrogate character escaped, cut to `maxChars`
 * (counted before escaping; the cut is marked with how much was left out). Idempotent on its
 * own output except for the cut, so applying it at several layers is harmless.
 */
export function printable(text: string, maxChars = DEFAULT_PRINTABLE_CHARS): string {
  let kept = text;
  let cut = '';
  if (kept.length > maxChars) {
    // Do not split a surrogate pair at the cut.
    const end = /[\ud800-\udbff]/.test(kept.charAt(maxChars - 1)) ? maxChars - 1 : maxChars;
    cut = `... (${text.length - end} more characters)`;
    kept = kept.slice(0, end);
  }
  return kept.replace(UNPRINTABLE, escapeOf) + cut;
}

/** Lines made printable each on its own, joined by line breaks: the breaks are the text's, a break inside a line is escaped. */
export function printableLines(lines: readonly string[]): string {
  return lines.map((line) => printable(line)).join('\n');
}

/** True when `text` holds nothing `printable` would escape (for tests and assertions). */
export function isPrintable(text: string): boolean {
  UNPRINTABLE.lastIndex = 0;
  const found = UNPRINTABLE.test(text);
  UNPRINTABLE.lastIndex = 0;
  return !found;
}
