// Email one-time code through the verifykit sidecar, from Node.js.
//
//   node email_otp.mjs [--target 127.0.0.1:50051] [--subject applicant-42] [--email ana@example.com]
//
// Starts a challenge, reads the code the person received from standard input (one line), checks
// it, and prints each step as one JSON line on standard output. The .proto files are the ones the
// Python package ships (src/verifykit/_wire/proto); set VERIFYKIT_PROTO_ROOT to use another copy.
// VERIFYKIT_TOKEN, when set, is sent as the bearer token.
import path from "node:path";
import readline from "node:readline";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

import grpc from "@grpc/grpc-js";
import protoLoader from "@grpc/proto-loader";

const here = path.dirname(fileURLToPath(import.meta.url));
const protoRoot =
  process.env.VERIFYKIT_PROTO_ROOT ?? path.resolve(here, "../../src/verifykit/_wire/proto");

const { values: args } = parseArgs({
  options: {
    target: { type: "string", default: "127.0.0.1:50051" },
    subject: { type: "string", default: "applicant-42" },
    email: { type: "string", default: "ana.putri@example.co.id" },
    locale: { type: "string", default: "en" },
  },
});

const definition = protoLoader.loadSync("verifykit/v1/email_otp.proto", {
  includeDirs: [protoRoot],
  keepCase: true, // field names exactly as in the .proto (challenge_id, attempts_left, ...)
  enums: String, // enum values by name (REASON_WRONG_CODE, ...)
  longs: Number,
  defaults: true,
  oneofs: true,
});
const { verifykit } = grpc.loadPackageDefinition(definition);
const client = new verifykit.v1.EmailOtpService(args.target, grpc.credentials.createInsecure());

function metadata() {
  const md = new grpc.Metadata();
  if (process.env.VERIFYKIT_TOKEN) md.set("authorization", `Bearer ${process.env.VERIFYKIT_TOKEN}`);
  return md;
}

// Promise wrapper; a refusal carries the gRPC status and, when rate limited, the retry-after trailer.
function call(method, request) {
  return new Promise((resolve, reject) => {
    const deadline = new Date(Date.now() + 10_000);
    client[method](request, metadata(), { deadline }, (error, response) => {
      if (!error) return resolve(response);
      const retryAfter = error.metadata?.get("retry-after")?.[0];
      reject(Object.assign(error, { retryAfter: retryAfter === undefined ? null : Number(retryAfter) }));
    });
  });
}

const say = (step, body) => console.log(JSON.stringify({ step, ...body }));

async function readLine(prompt) {
  const rl = readline.createInterface({ input: process.stdin, terminal: false });
  if (process.stdin.isTTY) process.stderr.write(prompt);
  for await (const line of rl) {
    rl.close();
    return line.trim();
  }
  throw new Error("standard input closed before a code was typed");
}

async function main() {
  const started = await call("StartEmailOtp", {
    subject: args.subject,
    email: args.email,
    locale: args.locale,
  });
  const challenge = started.challenge;
  say("started", {
    challenge_id: challenge.id,
    destination: challenge.destination,
    delivery: challenge.delivery,
    attempts_left: challenge.attempts_left,
  });

  const code = await readLine(`code sent to ${challenge.destination}: `);
  const { verdict } = await call("CheckEmailOtp", { challenge_id: challenge.id, code });
  say("checked", {
    approved: verdict.approved,
    reason: verdict.reason,
    attempts_left: verdict.attempts_left ?? null,
  });

  try {
    await call("ResendEmailOtp", { challenge_id: challenge.id });
  } catch (error) {
    say("resend_refused", { code: grpc.status[error.code], retry_after: error.retryAfter });
  }
  return verdict.approved ? 0 : 1;
}

main()
  .then((status) => {
    client.close();
    process.exitCode = status;
  })
  .catch((error) => {
    console.error(`error: ${grpc.status[error.code] ?? ""} ${error.details ?? error.message}`);
    client.close();
    process.exitCode = 2;
  });
