// sdk_publish.mjs MODE ENDPOINT KEY [COUNT]: publishes COUNT (default 3)
// Event Grid schema events with the official SDK (@azure/eventgrid,
// EventGridPublisherClient) to ENDPOINT (http://HOST:PORT/api/events) and
// prints one JSON line: {"ok":true,"events":[...as sent...]} or
// {"ok":false,"name":..,"statusCode":..,"code":..,"message":..}.
// MODE: "key" (AzureKeyCredential, header aeg-sas-key) or "sas"
// (generateSharedAccessSignature + AzureSASCredential, aeg-sas-token).
// Exit status 0 whenever the line was printed; tests/eventgrid/test_sdk.py
// judges it. The packages come from the project's node/ (scripts/setup.sh).
import { createRequire } from "node:module";

// Resolve from node/, not from this file's folder (which has no node_modules).
const require = createRequire(new URL("../../node/package.json", import.meta.url));
const {
  EventGridPublisherClient,
  AzureKeyCredential,
  AzureSASCredential,
  generateSharedAccessSignature,
} = require("@azure/eventgrid");

const [mode, endpoint, key, countArg] = process.argv.slice(2);
if (!mode || !endpoint || key === undefined) {
  console.error("usage: node sdk_publish.mjs key|sas ENDPOINT KEY [COUNT]");
  process.exit(2);
}
const count = Number(countArg ?? 3);

let credential;
if (mode === "key") {
  credential = new AzureKeyCredential(key);
} else if (mode === "sas") {
  // The SDK signs "r=ENDPOINT?api-version=..&e=EXPIRY" with the base64-decoded key.
  const expires = new Date(Date.now() + 10 * 60 * 1000);
  const token = await generateSharedAccessSignature(endpoint, new AzureKeyCredential(key), expires);
  credential = new AzureSASCredential(token);
} else {
  console.error(`unknown mode ${mode}`);
  process.exit(2);
}

// The local topic speaks plain HTTP on loopback; the SDK refuses http://
// unless told.
const client = new EventGridPublisherClient(endpoint, "EventGrid", credential, {
  allowInsecureConnection: true,
});
const run = `${mode}-${process.pid}`;
// Fields as an application would give them; the SDK adds nothing else except
// id (a UUID when absent) and eventTime (now when absent): both set here so
// that the test can compare what the topic stored with what was sent.
const events = [];
for (let i = 0; i < count; i++) {
  events.push({
    id: `sdk-${run}-${i}`,
    eventType: "Wagi.Sdk.Test",
    subject: `/sdk/${mode}/${i}`,
    dataVersion: "2.0",
    eventTime: new Date(Date.UTC(2024, 0, 2, 3, 4, 5, i)),
    data: { n: i, mode, nested: { list: [1, "two", null, true] }, text: "caf\u00e9 \u2603" },
  });
}

try {
  await client.send(events);
  const sent = events.map((e) => ({ ...e, eventTime: e.eventTime.toISOString() }));
  console.log(JSON.stringify({ ok: true, events: sent }));
} catch (e) {
  console.log(
    JSON.stringify({
      ok: false,
      name: e.name,
      statusCode: e.statusCode ?? null,
      code: e.code ?? null,
      message: String(e.message),
    }),
  );
}
