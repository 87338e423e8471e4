import { test } from 'node:test';
import assert from 'node:assert/strict';
import { escapeXml, isoSeconds, xmlDocument, xmlError, XmlNamespace } from './xml.js';

test('escapeXml escapes the five XML specials', () => {
  assert.equal(escapeXml(`<a href="x">'&'</a>`), '&lt;a href=&quot;x&quot;&gt;&apos;&amp;&apos;&lt;/a&gt;');
});

test('xmlDocument renders nested elements, repeated members and skips undefined', () => {
  const doc = xmlDocument('R', XmlNamespace.redshift, { A: { B: 1, C: undefined }, L: [{ M: 'x' }, { M: 'y<' }] });
  assert.equal(doc, '<R xmlns="http://redshift.amazonaws.com/doc/2012-12-01/"><A><B>1</B></A><L><M>x</M><M>y&lt;</M></L></R>\n');
});

test('xmlError has the awsQuery error shape', () => {
  assert.equal(
    xmlError(XmlNamespace.sts, 'Throttling', 'Rate exceeded', 'rid'),
    '<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type><Code>Throttling</Code><Message>Rate exceeded</Message></Error><RequestId>rid</RequestId></ErrorResponse>\n',
  );
});

test('isoSeconds drops milliseconds', () => {
  assert.equal(isoSeconds(new Date(Date.UTC(2026, 10, 24, 10, 30, 0, 123))), '2026-11-24T10:30:00Z');
});
