import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { attributes, parseXml, textOf } from './xml-tree.js';

/** The vendor tests lean on this reader: it must refuse what a phone's parser would. */
describe('strict XML reader (test helper)', () => {
  test('reads elements, attributes and text with entities decoded', () => {
    const root = parseXml('<?xml version="1.0" encoding="UTF-8"?>\n<!-- c -->\n<a x="1 &amp; 2" y=\'&#10;\'><b>R&amp;D &lt;x&gt;</b><c/></a>\n');
    assert.equal(root.name, 'a');
    assert.equal(textOf(root, 'b'), 'R&D <x>');
    assert.deepEqual([...attributes(root)], [['x', '1 & 2'], ['y', '\n']]);
  });

  test('a literal newline in an attribute reads as a space (XML 1.0 §3.3.3)', () => {
    assert.equal(parseXml('<a v="x\ny"/>').attrs.get('v'), 'x y');
  });

  for (const [what, xml] of [
    ['unclosed element', '<a><b></a>'],
    ['mismatched end tag', '<a></b>'],
    ['two roots', '<a/><b/>'],
    ['text outside the root', '<a/>x'],
    ['bare ampersand', '<a>R&D</a>'],
    ['unknown entity', '<a>&nbsp;</a>'],
    ['-- inside a comment', '<a><!-- x -- y --></a>'],
    ['duplicate attribute', '<a x="1" x="2"/>'],
    ['unquoted attribute', '<a x=1/>'],
    ['< in an attribute', '<a x="<"/>'],
    ['declaration not first', '\n<?xml version="1.0"?><a/>'],
    ['control character', '<a>\u0001</a>'],
    ['no root', '<!-- only a comment -->'],
    ['DOCTYPE', '<!DOCTYPE a><a/>'],
  ] as const) {
    test(`refuses: ${what}`, () => assert.throws(() => parseXml(xml)));
  }
});
