// The ladder of ways in through the verifykit sidecar, from Node.js: the email code does not arrive,
// the sidecar offers the other ways in, and the person's authenticator app gets them in.
//
//   node ladder.mjs --stored BASE64 --secret BASE32 [--target 127.0.0.1:50051] [--subject applicant-42]
//                   [--email ana@example.com]
//
// --stored is the sealed secret TotpService.EnrollTotp returned when the person set up the app
// (the service keeps it with the account); --secret stands in for the app on the person's phone:
// the code is computed here (totp.mjs: RFC 6238 with node:crypto, no extra dependency). Each step
// is one JSON line on standard output; the exit status is 0 when the person got in.
import { parseArgs } from "node:util";

import { connect, run, say } from "./sidecar.mjs";
import { totp } from "./totp.mjs";

const { values: args } = parseArgs({
  options: {
    target: { type: "string", default: "127.0.0.1:50051" },
    subject: { type: "string", default: "applicant-42" },
    email: { type: "string", default: "ana.putri@example.co.id" },
    stored: { type: "string" },
    secret: { type: "string" },
  },
});
if (!args.stored || !args.secret) {
  console.error("usage: node ladder.mjs --stored BASE64 --secret BASE32 [--target HOST:PORT]");
  process.exit(2);
}

const { call, close } = connect(args.target, {
  email: ["email_otp", "EmailOtpService"],
  totp: ["totp", "TotpService"],
  ladder: ["ladder", "LadderService"],
});

async function main() {
  // 1. The email code: the mail server does not answer, so delivery fails and the challenge offers
  //    the other ways in: a new code, the ways the person set up (enrolled), and the counter.
  const { challenge } = await call("email", "StartEmailOtp", {
    subject: args.subject,
    email: args.email,
    enrolled: ["WAY_AUTHENTICATOR_APP"],
  });
  say("email", {
    delivery: challenge.delivery,
    delivery_reason: challenge.delivery_reason,
    ways_in: challenge.ways_in,
  });

  // 2. The ways in: what this person has set up (the service's records), and what happened to the email.
  const offer = await call("ladder", "GetWaysIn", {
    subject: args.subject,
    enrolled: ["WAY_EMAIL_CODE", "WAY_AUTHENTICATOR_APP"],
    delivery: challenge.delivery,
  });
  say("ways_in", {
    open: offer.open.map((rung) => rung.way),
    closed: Object.fromEntries(offer.closed.map((rung) => [rung.way, rung.reason])),
  });
  if (offer.open[0]?.way !== "WAY_AUTHENTICATOR_APP") return 1;

  // 3. The authenticator app: the person types the code their phone shows.
  const code = totp(args.secret);
  const { verdict } = await call("totp", "VerifyTotp", {
    subject: args.subject,
    stored: Buffer.from(args.stored, "base64"),
    code,
  });
  say("authenticator", { approved: verdict.approved, reason: verdict.reason });
  return verdict.approved ? 0 : 1;
}

run(main, close);
