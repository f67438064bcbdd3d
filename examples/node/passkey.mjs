// Passkeys (WebAuthn) through the verifykit sidecar, from Node.js: register a passkey, sign in with
// it, and see the same signed sign-in sent again refused as a replay.
//
//   node passkey.mjs [--target 127.0.0.1:50051] [--subject applicant-42] [--origin https://example.com]
//
// The sidecar must serve passkeys for the origin's relying party:
//
//   verifykit serve --passkey-rp-id example.com --passkey-origins https://example.com
//
// In a real deployment the browser and the person's device answer the options the service hands
// them (navigator.credentials.create and .get). Here Node plays both, with node:crypto alone: a
// P-256 key, clientDataJSON, authenticator data holding the credential's COSE key, an attestation
// object with fmt "none" (small hand-written CBOR below), then an assertion signed with the key.
// verifykit keeps no user database: the service stores what CompletePasskeyRegistration returns
// and passes it back in. Each step is one JSON line on standard output; the exit status is 0 when
// the person registered, signed in, and the replay was refused.
import { createHash, generateKeyPairSync, randomBytes, sign } from "node:crypto";
import { parseArgs } from "node:util";

import { connect, run, say } from "./sidecar.mjs";

const { values: args } = parseArgs({
  options: {
    target: { type: "string", default: "127.0.0.1:50051" },
    subject: { type: "string", default: "applicant-42" },
    origin: { type: "string", default: "https://example.com" },
  },
});

// -- CBOR (RFC 8949), the little WebAuthn needs: integers, byte and text strings, maps ------------

function head(major, n) {
  if (n < 24) return Buffer.from([(major << 5) | n]);
  if (n < 0x100) return Buffer.from([(major << 5) | 24, n]);
  if (n < 0x10000) return Buffer.from([(major << 5) | 25, n >> 8, n & 0xff]);
  const out = Buffer.alloc(5);
  out[0] = (major << 5) | 26;
  out.writeUInt32BE(n, 1);
  return out;
}

// A Map (integer or text keys) or a plain object becomes a map, its keys in bytewise order of
// their encoding (RFC 8949 section 4.2.1, as authenticators write it).
export function cbor(value) {
  if (Buffer.isBuffer(value)) return Buffer.concat([head(2, value.length), value]);
  if (Number.isInteger(value)) return value >= 0 ? head(0, value) : head(1, -1 - value);
  if (typeof value === "string") {
    const text = Buffer.from(value, "utf8");
    return Buffer.concat([head(3, text.length), text]);
  }
  if (Array.isArray(value)) return Buffer.concat([head(4, value.length), ...value.map(cbor)]);
  const entries = value instanceof Map ? [...value] : Object.entries(value);
  const encoded = entries.map(([k, v]) => [cbor(k), cbor(v)]).sort(([a], [b]) => Buffer.compare(a, b));
  return Buffer.concat([head(5, encoded.length), ...encoded.flat()]);
}

// -- the authenticator and the browser, in one ------------------------------------------------------

const UP = 0x01; // user present: the person touched it
const UV = 0x04; // user verified: a PIN or biometric
const AT = 0x40; // attested credential data follows
const ES256 = -7;

const sha256 = (data) => createHash("sha256").update(data).digest();
const b64url = (bytes) => Buffer.from(bytes).toString("base64url");

class Authenticator {
  constructor() {
    const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
    const jwk = publicKey.export({ format: "jwk" });
    this.privateKey = privateKey;
    // The public key as COSE_Key (RFC 9053): kty EC2, alg ES256, crv P-256, x, y.
    this.coseKey = cbor(
      new Map([
        [1, 2],
        [3, ES256],
        [-1, 1],
        [-2, Buffer.from(jwk.x, "base64url")],
        [-3, Buffer.from(jwk.y, "base64url")],
      ]),
    );
    this.credentialId = randomBytes(16);
    this.signCount = 0;
    this.userHandle = null;
  }

  // rpIdHash (32) | flags (1) | signCount (4, big-endian) | what follows; each use counts one more.
  authenticatorData(rpId, flags, rest = Buffer.alloc(0)) {
    this.signCount += 1;
    const counter = Buffer.alloc(4);
    counter.writeUInt32BE(this.signCount);
    return Buffer.concat([sha256(rpId), Buffer.from([flags]), counter, rest]);
  }

  // What the browser writes as clientDataJSON: the ceremony, the challenge and the page's origin.
  static clientData(type, challenge, origin) {
    return Buffer.from(JSON.stringify({ type, challenge, origin, crossOrigin: false }));
  }

  // navigator.credentials.create(options), serialized as JSON.stringify(credential) would.
  create(optionsJson, origin) {
    const options = JSON.parse(optionsJson);
    if (!options.pubKeyCredParams.some((param) => param.alg === ES256)) throw new Error("ES256 not offered");
    this.userHandle = options.user.id; // the keyed tag the sidecar made of the subject
    const length = Buffer.alloc(2);
    length.writeUInt16BE(this.credentialId.length);
    const aaguid = Buffer.alloc(16); // all zeros: the model is not disclosed (no attestation)
    const attested = Buffer.concat([aaguid, length, this.credentialId, this.coseKey]);
    const authData = this.authenticatorData(options.rp.id, UP | UV | AT, attested);
    const clientData = Authenticator.clientData("webauthn.create", options.challenge, origin);
    const attestationObject = cbor({ fmt: "none", attStmt: {}, authData });
    return JSON.stringify({
      id: b64url(this.credentialId),
      rawId: b64url(this.credentialId),
      type: "public-key",
      authenticatorAttachment: "platform",
      clientExtensionResults: {},
      response: {
        clientDataJSON: b64url(clientData),
        attestationObject: b64url(attestationObject),
        transports: ["internal"],
      },
    });
  }

  // navigator.credentials.get(options): an ECDSA signature (DER, as WebAuthn sends ES256) over
  // authenticator data and the hash of clientDataJSON.
  get(optionsJson, origin) {
    const options = JSON.parse(optionsJson);
    const mine = b64url(this.credentialId);
    if (!options.allowCredentials.some((allowed) => allowed.id === mine)) throw new Error("not allowed");
    const authData = this.authenticatorData(options.rpId, UP | UV);
    const clientData = Authenticator.clientData("webauthn.get", options.challenge, origin);
    const signature = sign("sha256", Buffer.concat([authData, sha256(clientData)]), this.privateKey);
    return JSON.stringify({
      id: mine,
      rawId: mine,
      type: "public-key",
      authenticatorAttachment: "platform",
      clientExtensionResults: {},
      response: {
        clientDataJSON: b64url(clientData),
        authenticatorData: b64url(authData),
        signature: b64url(signature),
        userHandle: this.userHandle,
      },
    });
  }
}

// -- the ceremonies, through the sidecar --------------------------------------------------------------

const { call, close } = connect(args.target, { passkey: ["passkey", "PasskeyService"] });

async function main() {
  const device = new Authenticator();
  const subject = args.subject;

  // 1. Registration: options for the browser, the authenticator's answer, the sidecar's check.
  const { options: creation } = await call("passkey", "BeginPasskeyRegistration", {
    subject,
    user_name: "ana@example.com",
    display_name: "Ana Putri",
  });
  const enrollment = await call("passkey", "CompletePasskeyRegistration", {
    subject,
    challenge_id: creation.challenge_id,
    response_json: device.create(creation.options_json, args.origin),
  });
  say("registered", {
    approved: enrollment.approved,
    reason: enrollment.reason,
    credential_id: enrollment.credential?.credential_id ?? null,
    attestation_format: enrollment.credential?.attestation_format ?? null,
    assurance_level: enrollment.credential?.assurance_level ?? null,
  });
  if (!enrollment.approved) return 1;
  let stored = enrollment.stored; // the service keeps this with the account

  // 2. Sign-in: options allowing the stored passkey, a signed assertion, the verdict.
  const { options: request } = await call("passkey", "BeginPasskeySignIn", { subject, credentials: [stored] });
  const assertion = device.get(request.options_json, args.origin);
  const signIn = { subject, challenge_id: request.challenge_id, response_json: assertion, credentials: [stored] };
  const first = await call("passkey", "VerifyPasskey", signIn);
  say("signed_in", {
    approved: first.verdict.approved,
    reason: first.verdict.reason,
    credential_id: first.verdict.details.credential_id ?? null,
    stored_updated: first.stored !== undefined && first.stored !== null && first.stored !== "",
  });
  if (!first.verdict.approved) return 1;
  if (first.stored) stored = first.stored; // its new signature counter

  // 3. What the stored passkey says now.
  const { credential } = await call("passkey", "DescribePasskey", { subject, stored });
  say("described", { sign_count: credential.sign_count, assurance_level: credential.assurance_level });

  // 4. The same signed assertion again, as someone who copied it would send it: refused.
  const again = await call("passkey", "VerifyPasskey", { ...signIn, credentials: [stored] });
  say("replayed", { approved: again.verdict.approved, reason: again.verdict.reason });
  return again.verdict.reason === "REASON_REPLAYED" ? 0 : 1;
}

run(main, close);
