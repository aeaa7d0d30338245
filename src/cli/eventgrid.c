/* eventgrid.c — `wagi eventgrid -c TOPIC.toml [--listen IP:PORT]`: a local
 * Event Grid topic (src/eventgrid/). */
#include <stdio.h>
#include <string.h>

#include "eventgrid/eventgrid.h"
#include "cli.h"

void wagi_cmd_eventgrid_usage(FILE *out) {
  fprintf(out,
          "usage: wagi eventgrid -c TOPIC.toml [--listen IP:PORT]\n"
          "\n"
          "A local, durable Azure Event Grid topic for development, tests and the offline\n"
          "demo. Publishers use the Event Grid REST API unchanged (e.g. the @azure/eventgrid\n"
          "client with an AzureKeyCredential):\n"
          "\n"
          "  POST /api/events?api-version=2018-01-01   header aeg-sas-key: KEY; body: a JSON\n"
          "        array of Event Grid events (id, subject, eventType, eventTime as RFC 3339,\n"
          "        data, dataVersion; topic and metadataVersion may be left out). 200 with an\n"
          "        empty body once every event is on disk; 400 naming the bad field; 401 for a\n"
          "        missing or wrong key; 413 over max_batch_bytes. Instead of the key, an\n"
          "        aeg-sas-token r=RESOURCE&e=EXPIRY&s=SIGNATURE signed with it (HMAC-SHA256\n"
          "        of \"r=..&e=..\" with the base64-decoded key, as Azure's SDKs make it;\n"
          "        the key must then be base64, as Azure's keys are).\n"
          "  GET /api/validate?subscription=NAME&code=CODE   the validationUrl: validates\n"
          "        a subscription by hand (200; 400 for a wrong code, 404 for no such name)\n"
          "  GET /healthz                              200 \"ok\"\n"
          "\n"
          "Accepted events are appended to DATA_DIR/events.log and fsync'ed before the 200;\n"
          "on startup the log is read back (a torn tail from a crash is dropped) and what\n"
          "is still owed to each subscription is delivered.\n"
          "\n"
          "Delivery, per [[subscription]]: first the validation handshake (a POST with\n"
          "aeg-event-type: SubscriptionValidation and data.validationCode; the subscriber\n"
          "answers 200 {\"validationResponse\": CODE}, or GETs data.validationUrl), retried\n"
          "on retry_delays until it succeeds and remembered in DATA_DIR. Then each\n"
          "matching event is POSTed as a one-element JSON array with topic and\n"
          "metadataVersion filled in and the headers aeg-event-type: Notification,\n"
          "aeg-subscription-name, aeg-delivery-count (earlier attempts: 0 on the first),\n"
          "aeg-metadata-version, aeg-data-version. 200-204 is delivered; 400, 401, 403\n"
          "and 413 are dead-lettered at once; anything else, a timeout or a refused\n"
          "connection is retried after the next retry_delays entry (+-20%% jitter) until\n"
          "max_attempts or event_ttl, then dead-lettered: written to\n"
          "DATA_DIR/deadletter/SUBSCRIPTION/SEQ-ID.json with deadLetterReason,\n"
          "deliveryAttempts, lastDeliveryOutcome and lastHttpStatusCode. At-least-once,\n"
          "unordered; each outcome is logged in DATA_DIR, so a restart (even after\n"
          "kill -9) sends only what is still owed. One line per publish and per attempt\n"
          "goes to stderr.\n"
          "\n"
          "options:\n"
          "  -c, --config FILE     the topic's TOML file (required)\n"
          "  --listen IP:PORT      overrides `listen`\n"
          "  -h, --help            this text\n"
          "\n"
          "TOPIC.toml keys (unknown keys are warnings, as in modules.toml):\n"
          "  listen = \"IP:PORT\"            default \"%s\" ([IPv6]:PORT also)\n"
          "  key = \"SECRET\"                required: the aeg-sas-key publishers send\n"
          "  topic = \"/subscriptions/...\"  the resource path put in delivered events;\n"
          "                                a published event's `topic`, if set, must equal\n"
          "                                it (default %s)\n"
          "  data_dir = \"DIR\"              required: the event log (created if missing;\n"
          "                                relative to the current directory)\n"
          "  retry_delays = [10, 30, ...]  seconds between delivery attempts (numbers >= 0,\n"
          "                                fractions allowed, the last repeats); default\n"
          "                                Azure's 10 s, 30 s, 1 m, 5 m, 10 m, 30 m, 1 h,\n"
          "                                3 h, 6 h, 12 h\n"
          "  max_attempts = 30             delivery attempts before dead-lettering (1-1000)\n"
          "  event_ttl = 86400             seconds an event is retried before\n"
          "                                dead-lettering (1 s to 30 days)\n"
          "  max_batch_bytes = 1048576     largest publish body (1 KiB to 64 MiB); larger is\n"
          "                                413\n"
          "  delivery_timeout = 30         seconds an attempt may take (fractions allowed)\n"
          "  max_in_flight = 16            deliveries at once per subscription (1-1000)\n"
          "  log_compact_bytes = 16777216  rewrite the log without finished events once it\n"
          "                                is larger than this (and twice its last size)\n"
          "  [[subscription]]              one table per subscriber:\n"
          "  name = \"NAME\"                 required, unique, 3-64 letters, digits or '-'\n"
          "  endpoint = \"https://...\"      required, the webhook URL (http or https)\n"
          "  event_types = [\"A\", ...]      optional: only these event types\n"
          "  subject_begins_with = \"P\"     optional: only subjects with this prefix\n"
          "                                (both filters ignore case, as Azure's do)\n"
          "\n"
          "Errors in the file are reported as FILE:LINE:COL: what is wrong.\n"
          "Exit status: 0 after SIGINT/SIGTERM, 1 for a usage, config or startup error.\n",
          EG_DEFAULT_LISTEN, EG_DEFAULT_TOPIC);
}

int wagi_cmd_eventgrid(int argc, char **argv) {
  const char *config = NULL, *listen = NULL;
  for (int i = 0; i < argc; i++) {
    const char *a = argv[i];
    if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
      wagi_cmd_eventgrid_usage(stdout);
      return 0;
    }
    const char **dst = NULL;
    const char *val = NULL;
    if (!strcmp(a, "-c") || !strcmp(a, "--config")) dst = &config;
    else if (!strcmp(a, "--listen")) dst = &listen;
    else if (!strncmp(a, "--config=", 9)) dst = &config, val = a + 9;
    else if (!strncmp(a, "--listen=", 9)) dst = &listen, val = a + 9;
    else {
      fprintf(stderr, "wagi eventgrid: unknown argument \"%s\" (see wagi eventgrid --help)\n", a);
      return 1;
    }
    if (!val) {
      if (i + 1 >= argc) {
        fprintf(stderr, "wagi eventgrid: %s needs a value\n", a);
        return 1;
      }
      val = argv[++i];
    }
    *dst = val;
  }
  if (!config) {
    fprintf(stderr, "wagi eventgrid: -c TOPIC.toml is required (see wagi eventgrid --help)\n");
    return 1;
  }
  eg_config *cfg = NULL;
  char err[2048];
  if (eg_config_load(config, &cfg, err, sizeof err) != EG_OK) {
    fprintf(stderr, "wagi eventgrid: %s\n", err);
    return 1;
  }
  for (size_t i = 0; i < cfg->n_warnings; i++)
    fprintf(stderr, "wagi eventgrid: %s\n", cfg->warnings[i]);
  int rc = eg_serve(cfg, listen);
  eg_config_free(cfg);
  return rc;
}
