// RFC 6238 time-based codes with node:crypto, as the authenticator app on a phone computes them:
// the examples use it to stand in for the person's app. No extra dependency.
import { createHmac } from "node:crypto";

// RFC 4648 base32, as authenticator apps read the secret from the QR code.
export function base32Decode(text) {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  let bits = 0;
  let value = 0;
  const out = [];
  for (const ch of text.replace(/=+$/, "").toUpperCase()) {
    const index = alphabet.indexOf(ch);
    if (index < 0) throw new Error(`not base32: ${ch}`);
    value = (value << 5) | index;
    bits += 5;
    if (bits >= 8) {
      out.push((value >>> (bits - 8)) & 0xff);
      bits -= 8;
    }
  }
  return Buffer.from(out);
}

// RFC 6238 (HOTP of RFC 4226 over 30-second steps).
export function totp(secretBase32, { time = Date.now() / 1000, step = 30, digits = 6, algorithm = "sha1" } = {}) {
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(time / step)));
  const mac = createHmac(algorithm, base32Decode(secretBase32)).update(counter).digest();
  const offset = mac[mac.length - 1] & 0x0f;
  const binary = mac.readUInt32BE(offset) & 0x7fffffff;
  return String(binary % 10 ** digits).padStart(digits, "0");
}
