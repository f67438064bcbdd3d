// Back in after a hard lock, from Node.js: someone guessed wrong authenticator codes until the
// account locked for good, so even the right code is refused; the ladder offers only the counter
// voucher; the person shows their ID at a counter, where an officer signs a voucher
// (`verifykit voucher sign`); the service redeems it through the sidecar, and the authenticator
// code gets the person in again.
//
//   VERIFYKIT_VOUCHER=TEXT node voucher.mjs --stored BASE64 --secret BASE32
//                   [--target 127.0.0.1:50051] [--subject applicant-42] [--voucher TEXT]
//
// The voucher comes from the environment (or --voucher): it is a bearer token until redeemed, so
// keep it off command lines other users can list. --stored and --secret are as in ladder.mjs.
// Each step is one JSON line on standard output; the exit status is 0 when the person got in.
import { parseArgs } from "node:util";

import { connect, run, say } from "./sidecar.mjs";
import { totp } from "./totp.mjs";

const { values: args } = parseArgs({
  options: {
    target: { type: "string", default: "127.0.0.1:50051" },
    subject: { type: "string", default: "applicant-42" },
    stored: { type: "string" },
    secret: { type: "string" },
    voucher: { type: "string", default: process.env.VERIFYKIT_VOUCHER },
  },
});
if (!args.stored || !args.secret || !args.voucher) {
  console.error(
    "usage: VERIFYKIT_VOUCHER=TEXT node voucher.mjs --stored BASE64 --secret BASE32 [--target HOST:PORT]",
  );
  process.exit(2);
}

const { call, close } = connect(args.target, {
  totp: ["totp", "TotpService"],
  ladder: ["ladder", "LadderService"],
  vouchers: ["voucher", "VoucherService"],
});
const enrolled = ["WAY_AUTHENTICATOR_APP"]; // what this person set up (the service's records)

async function waysIn(step) {
  const offer = await call("ladder", "GetWaysIn", { subject: args.subject, enrolled });
  say(step, {
    open: offer.open.map((rung) => rung.way),
    closed: Object.fromEntries(offer.closed.map((rung) => [rung.way, rung.reason])),
    budget_hard_locked: offer.budget_hard_locked,
  });
  return offer;
}

async function authenticator(step) {
  const { verdict } = await call("totp", "VerifyTotp", {
    subject: args.subject,
    stored: Buffer.from(args.stored, "base64"),
    code: totp(args.secret),
  });
  // REASON_HARD_LOCKED: locked for good; budget_left: the failures left before a lock.
  say(step, { approved: verdict.approved, reason: verdict.reason, budget_left: verdict.budget_left ?? null });
  return verdict;
}

async function main() {
  // 1. The right code from the app is refused: the account is locked for good (nothing is
  //    compared while it is, so the code is not spent).
  const locked = await authenticator("locked");
  if (locked.approved) return 1;

  // 2. The ladder: every way the person set up is closed; the counter voucher is the way left.
  const offer = await waysIn("ways_in");
  if (offer.open.map((rung) => rung.way).join() !== "WAY_COUNTER_VOUCHER") return 1;

  // 3. At the counter an officer checked the person's ID and signed a voucher; the service
  //    redeems it once, on the record, which clears the lockouts it names.
  const redeemed = await call("vouchers", "RedeemVoucher", { subject: args.subject, voucher: args.voucher });
  say("voucher", {
    approved: redeemed.verdict.approved,
    reason: redeemed.verdict.reason,
    unlocked: redeemed.unlocked,
    officers: redeemed.officer_key_ids,
  });
  if (!redeemed.verdict.approved) return 1;

  // 4. The ladder again: the authenticator app is open, and its code gets the person in.
  await waysIn("ways_in_after");
  const verdict = await authenticator("authenticator");
  return verdict.approved ? 0 : 1;
}

run(main, close);
