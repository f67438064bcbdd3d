// The set-up the examples share: load the sidecar's protos, open one client per service, and call
// with the bearer token from VERIFYKIT_TOKEN (if set) and a deadline on every call.
import path from "node:path";
import { fileURLToPath } from "node:url";

import grpc from "@grpc/grpc-js";
import protoLoader from "@grpc/proto-loader";

const here = path.dirname(fileURLToPath(import.meta.url));
const protoRoot =
  process.env.VERIFYKIT_PROTO_ROOT ?? path.resolve(here, "../../src/verifykit/_wire/proto");

// `services` maps a short name to [proto file, service]: { totp: ["totp", "TotpService"] }.
export function connect(target, services, { deadlineMs = 30_000 } = {}) {
  const protos = Object.values(services).map(([file]) => `verifykit/v1/${file}.proto`);
  const definition = protoLoader.loadSync(protos, {
    includeDirs: [protoRoot],
    keepCase: true,
    enums: String,
    longs: Number,
    defaults: true,
    oneofs: true,
  });
  const { v1 } = grpc.loadPackageDefinition(definition).verifykit;
  const credentials = grpc.credentials.createInsecure();
  const clients = Object.fromEntries(
    Object.entries(services).map(([name, [, service]]) => [name, new v1[service](target, credentials)]),
  );

  function metadata() {
    const md = new grpc.Metadata();
    if (process.env.VERIFYKIT_TOKEN) md.set("authorization", `Bearer ${process.env.VERIFYKIT_TOKEN}`);
    return md;
  }

  function call(service, method, request) {
    return new Promise((resolve, reject) => {
      const deadline = new Date(Date.now() + deadlineMs);
      clients[service][method](request, metadata(), { deadline }, (error, response) =>
        error ? reject(error) : resolve(response),
      );
    });
  }

  const close = () => Object.values(clients).forEach((client) => client.close());
  return { call, close };
}

// One JSON line per step on standard output.
export const say = (step, body) => console.log(JSON.stringify({ step, ...body }));

// Run `main` (which resolves to the exit status), report a failed call on standard error with
// exit status 2, and close the clients either way.
export function run(main, close) {
  main()
    .then((status) => {
      process.exitCode = status;
    })
    .catch((error) => {
      console.error(`error: ${grpc.status[error.code] ?? ""} ${error.details ?? error.message}`);
      process.exitCode = 2;
    })
    .finally(close);
}
