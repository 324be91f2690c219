// The one helper every message and log line goes through before it quotes something from outside.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { clientMessageValidator } from '../../shared/messages.js';
import { isPrintable, printable } from '../../shared/printable.js';
import { parseMessage } from '../../shared/validate.js';
import { PrepareError } from '../../server/prepare/errors.js';
import { BadParamsError } from '../../server/session/queries/errors.js';

test('controls, bidi overrides, separators and lone surrogates are escaped; text is kept', () => {
  assert.equal(printable('pnl\x1b]0;owned\x07'), 'pnl\\x1b]0;owned\\x07');
  assert.equal(printable('a\r\nFAKE LOG LINE'), 'a\\x0d\\x0aFAKE LOG LINE');
  assert.equal(printable('\u009b31m'), '\\x9b31m', 'C1 CSI');
  assert.equal(printable('\x7f\x00'), '\\x7f\\x00');
  assert.equal(printable('report\u202Etxt.exe'), 'report\\u{202e}txt.exe');
  assert.equal(printable('x\u2066y\u2069\u2028'), 'x\\u{2066}y\\u{2069}\\u{2028}');
  assert.equal(printable('lone \ud800 and \udc00'), 'lone \\u{d800} and \\u{dc00}');
  for (const kept of ['Société Générale', '日本株 ロング', 'emoji 📈 pair', 'tab-free, quotes "\' and \\ slashes']) {
    assert.equal(printable(kept), kept);
    assert.ok(isPrintable(kept));
  }
});

test('long text is cut with a count of what was left out, never inside a surrogate pair', () => {
  const long = 'x'.repeat(5000);
  assert.equal(printable(long, 10), `xxxxxxxxxx... (4990 more characters)`);
  const pairAtCut = `${'a'.repeat(9)}📈tail`;
  assert.equal(printable(pairAtCut, 10), `${'a'.repeat(9)}... (6 more characters)`);
  assert.ok(isPrintable(printable(`\x1b${'y'.repeat(10_000)}`)));
});

test('the error classes that quote input make their messages printable', () => {
  const name = 'dict3\x00\x08\x1b[2J';
  assert.equal(new PrepareError(`column '${name}' is missing`).message, "column 'dict3\\x00\\x08\\x1b[2J' is missing");
  assert.ok(isPrintable(new BadParamsError(`unknown symbol "\u202Eevil\x1b"`).message));
});

test('validation errors do not echo raw control bytes or unbounded client text', () => {
  const hostileKey = JSON.stringify({ type: 'request', id: 1, query: 'summary', params: { ['\x1b[31mkey\u202E']: 1 } });
  const keyed = parseMessage(hostileKey, clientMessageValidator);
  assert.equal(keyed.ok, false);
  assert.ok(isPrintable((keyed as { error: string }).error), (keyed as { error: string }).error);
  const longTag = parseMessage(JSON.stringify({ type: `\x1b${'t'.repeat(60_000)}` }), clientMessageValidator);
  const error = (longTag as { error: string }).error;
  assert.ok(isPrintable(error) && error.length < 300, error.slice(0, 300));
  assert.match(error, /\/type is "\\x1bt+\.\.\. \(\d+ more characters\)"/);
  const notJson = parseMessage('{"a":"\x1b\x00', clientMessageValidator);
  assert.ok(isPrintable((notJson as { error: string }).error));
  assert.match((parseMessage('{"type":7}', clientMessageValidator) as { error: string }).error, /\/type is 7,/);
  assert.match((parseMessage('{"type":[1]}', clientMessageValidator) as { error: string }).error, /\/type is an array,/);
});

test('a PrepareError of lines keeps the breaks between them and escapes those a line quotes', () => {
  const error = new PrepareError(['2 problem(s):', "- column 'ts\r\nFAKE LOG LINE' is not a timestamp", '- another']);
  assert.equal(error.message, "2 problem(s):\n- column 'ts\\x0d\\x0aFAKE LOG LINE' is not a timestamp\n- another");
  assert.equal(new PrepareError('one\ntext').message, 'one\\x0atext', 'one text is escaped whole');
  const more = error.withLine('(see \x1b[31mhere)');
  assert.equal(more.message, `${error.message}\n(see \\x1b[31mhere)`, 'a line added: the message is not escaped twice');
  assert.equal(more.cause, error);
});
