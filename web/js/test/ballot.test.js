// Ballots against the vectors the Go side makes and checks.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { bytesToHex, hexToBytes } from '@noble/hashes/utils';
import { deriveCredential, encryptBallot, verifyBallot, trackingCode, ballotSize, signedSize, makeCopy } from '../src/crypto.js';

const vectors = JSON.parse(readFileSync(new URL('../../../ballot/testdata/ballots.json', import.meta.url), 'utf8'));

const leScalar = (hex) => {
  const b = hexToBytes(hex);
  let n = 0n;
  for (let i = b.length - 1; i >= 0; i--) n = (n << 8n) | BigInt(b[i]);
  return n;
};

test('ballots are byte for byte the Go ones', () => {
  assert.ok(vectors.length > 0);
  for (const v of vectors) {
    const credential = deriveCredential(v.election.id, v.code);
    const scalars = v.scalars.map(leScalar);
    const ballot = encryptBallot(v.election, credential, v.selections, () => {
      assert.ok(scalars.length > 0, 'drew more scalars than the vector has');
      return scalars.shift();
    }, hexToBytes(v.random));
    assert.equal(scalars.length, 0, 'scalars left undrawn');
    assert.equal(ballot.length, ballotSize(v.election));
    assert.equal(bytesToHex(ballot), v.ballot);
    assert.equal(trackingCode(ballot), v.tracking_code);
  }
});

test('Go ballots verify here, and fresh ones here verify too', () => {
  for (const v of vectors) {
    assert.equal(verifyBallot(v.election, hexToBytes(v.ballot)), null);
    const { ballot, body, trackingCode: code } = makeCopy(v.election, deriveCredential(v.election.id, v.code), v.selections);
    assert.equal(verifyBallot(v.election, ballot), null);
    assert.equal(code, trackingCode(ballot));
    assert.equal(body.encrypted, Buffer.from(ballot).toString('base64'));
    assert.notEqual(bytesToHex(ballot), v.ballot, 'encryption is randomised');
  }
});

test('the checker refuses altered and copied ballots, naming what fails', () => {
  const v = vectors[0];
  const good = hexToBytes(v.ballot);
  const head = 4 + 1 + new TextEncoder().encode(v.election.id).length;
  const flip = (i) => {
    const b = good.slice();
    b[i] ^= 1;
    return b;
  };
  assert.match(verifyBallot(v.election, good.subarray(1)), /wrong length/);
  assert.match(verifyBallot(v.election, flip(0)), /not a version 2 ballot/);
  const signed = signedSize(v.election);
  assert.match(verifyBallot(v.election, flip(signed + 24)), /signature does not verify|non-canonical/);
  assert.match(verifyBallot(v.election, flip(head + 32 + 64 + 100)), /candidate "a"|non-canonical/);
  // A decoding hint altered: the last element's (R's), then the first's (P's).
  assert.match(verifyBallot(v.election, flip(good.length - 32)), /element \d+ of the ballot has the wrong decoding hint/);
  assert.match(verifyBallot(v.election, flip(signed + 64 + 31)), /element 0 of the ballot has the wrong decoding hint/);
  // The ballot under another voter's credential, signed by that voter.
  const other = deriveCredential(v.election.id, 'ZZZZZ-ZZZZZ-ZZZZZ-ZZZZZ-ZZZZZ');
  const copied = good.slice(0, signed);
  copied.set(other.publicKey, head);
  const mine = encryptBallot(v.election, other, v.selections);
  const resigned = mine.slice();
  resigned.set(copied);
  assert.equal(verifyBallot(v.election, mine), null);
  assert.match(verifyBallot(v.election, resigned), /candidate "a": the proof that it encrypts 0 or 1 does not verify/);
  // Under another election's id.
  assert.match(verifyBallot({ ...v.election, id: 'other-2026' }, good), /wrong length|not a version 2/);
});

test('choices the election does not allow are refused before encrypting', () => {
  const v = vectors[0];
  const c = deriveCredential(v.election.id, v.code);
  for (const bad of [{ leader: [] }, { leader: ['a', 'b'] }, { leader: ['zz'] }, { leader: ['a'], council: ['p', 'p'] }, { leader: ['a'], mayor: ['x'] }]) {
    assert.throws(() => encryptBallot(v.election, c, bad), /question|candidate|choose/, JSON.stringify(bad));
  }
  assert.throws(() => encryptBallot({ ...v.election, public_key: undefined }, c, v.selections), /public key/);
});
