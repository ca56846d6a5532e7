// The device crypto against the vectors the Go side is held to.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { bytesToHex, hexToBytes } from '@noble/hashes/utils';
import { normalizeCode, deriveCredential, sign, verifySignature, scalarBytes, signInStatement, signInRequest } from '../src/crypto.js';

const vectors = (name) =>
  JSON.parse(readFileSync(new URL(`../../../ballot/testdata/${name}`, import.meta.url), 'utf8'));

test('credentials derive as in Go', () => {
  const vs = vectors('credentials.json');
  assert.ok(vs.length > 0);
  for (const v of vs) {
    assert.equal(normalizeCode(v.code), v.canonical);
    const c = deriveCredential(v.election, v.code);
    assert.equal(bytesToHex(scalarBytes(c.x)), v.x, v.code);
    assert.equal(bytesToHex(c.publicKey), v.p, v.code);
  }
});

test('codes are read as typed', () => {
  assert.equal(normalizeCode('7kq2m xd9rt ovbc4 hn8pw 3ej5a'), '7KQ2MXD9RT0VBC4HN8PW3EJ5A');
  for (const bad of ['', 'too short', '7KQ2M-XD9RT-0VBC4-HN8PW-3EJ5', '7KQ2M-XD9RT-0VBC4-HN8PW-3EJ5U', 'x'.repeat(65), 'ÅKQ2M-XD9RT-0VBC4-HN8PW-3EJ5A']) {
    assert.equal(normalizeCode(bad), null, bad);
    assert.equal(deriveCredential('e', bad), null);
  }
});

test('signatures are byte for byte the Go ones, and verify', () => {
  const vs = vectors('signatures.json');
  assert.ok(vs.length > 0);
  for (const v of vs) {
    const c = deriveCredential(v.election, v.code);
    assert.equal(bytesToHex(c.publicKey), v.p);
    const sig = sign(c, v.context, hexToBytes(v.message), hexToBytes(v.random));
    assert.equal(bytesToHex(sig), v.signature, `${v.code}/${v.context}`);
    assert.ok(verifySignature(c.publicKey, v.context, hexToBytes(v.message), sig));
  }
});

test('bad signatures are refused', () => {
  const c = deriveCredential('e1', '7KQ2M-XD9RT-0VBC4-HN8PW-3EJ5A');
  const other = deriveCredential('e1', 'ZZZZZ-ZZZZZ-ZZZZZ-ZZZZZ-ZZZZZ');
  const msg = new TextEncoder().encode('statement');
  const sig = sign(c, 'sign-in', msg);
  assert.ok(verifySignature(c.publicKey, 'sign-in', msg, sig));
  assert.notEqual(bytesToHex(sig), bytesToHex(sign(c, 'sign-in', msg)), 'the nonce is fresh');
  assert.ok(!verifySignature(c.publicKey, 'ballot', msg, sig));
  assert.ok(!verifySignature(other.publicKey, 'sign-in', msg, sig));
  assert.ok(!verifySignature(c.publicKey, 'sign-in', new TextEncoder().encode('statement!'), sig));
  const tampered = sig.slice();
  tampered[63] ^= 0x10;
  assert.ok(!verifySignature(c.publicKey, 'sign-in', msg, tampered));
  assert.ok(!verifySignature(new Uint8Array(32), 'sign-in', msg, sig));
  assert.ok(!verifySignature(c.publicKey, 'sign-in', msg, sig.subarray(0, 63)));
});

test('the sign-in statement is the Go one', () => {
  const v = vectors('signatures.json').filter((v) => v.context === 'sign-in').at(-1);
  assert.ok(v, 'a sign-in vector');
  assert.equal(bytesToHex(signInStatement('primary-2026', 'M0012345', 1796000000123)), v.message);
  const req = signInRequest('primary-2026', 'M0012345', v.code, 1796000000123);
  assert.equal(req.voter_id, 'M0012345');
  assert.equal(req.at, 1796000000123);
  const sig = Uint8Array.from(atob(req.signature), (c) => c.charCodeAt(0));
  assert.ok(verifySignature(hexToBytes(v.p), 'sign-in', hexToBytes(v.message), sig));
  assert.equal(signInRequest('e', 'V1', 'not a code'), null);
});
