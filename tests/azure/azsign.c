/* azsign — the guest SDK's request signing, built natively for the tests
 * (tests/azure/test_signing.py compares it with the official SDKs).
 *
 *   azsign blob ACCOUNT KEY_BASE64 METHOD PATH QUERY < headers
 *       headers: "name: value" lines; prints the string-to-sign as a JSON
 *       string, a newline, then the Authorization value
 *   azsign cosmos KEY_BASE64 VERB RESOURCE_TYPE RESOURCE_LINK DATE
 *       prints the Authorization value
 *   azsign egsas ENDPOINT_URL EXPIRES_UNIX KEY_BASE64
 *       prints an Event Grid aeg-sas-token */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wagi_azure.h"
#include "wagi_codec.h"

static void print_json_string(const char *s) {
  putchar('"');
  for (; *s; s++) {
    if (*s == '"' || *s == '\\') printf("\\%c", *s);
    else if (*s == '\n') printf("\\n");
    else if ((unsigned char)*s < 0x20) printf("\\u%04x", *s);
    else putchar(*s);
  }
  printf("\"\n");
}

int main(int argc, char **argv) {
  if (argc == 7 && !strcmp(argv[1], "blob")) {
    static char lines[1 << 16];
    size_t n = fread(lines, 1, sizeof lines - 1, stdin);
    lines[n] = 0;
    wagi_az_header h[64];
    size_t nh = 0;
    for (char *line = strtok(lines, "\n"); line && nh < 64; line = strtok(NULL, "\n")) {
      char *colon = strchr(line, ':');
      if (!colon) continue;
      *colon = 0;
      char *v = colon + 1;
      while (*v == ' ') v++;
      h[nh++] = (wagi_az_header){line, v};
    }
    uint8_t *key = NULL;
    size_t kl, at;
    if (wagi_base64_decode_alloc(argv[3], strlen(argv[3]), &key, &kl, &at)) return 2;
    char *sts = NULL, auth[512];
    if (wagi_az_blob_string_to_sign(argv[2], argv[4], argv[5], argv[6], h, nh, &sts) ||
        wagi_az_blob_authorization(argv[2], key, kl, argv[4], argv[5], argv[6], h, nh, auth,
                                   sizeof auth))
      return 3;
    print_json_string(sts);
    printf("%s\n", auth);
    free(sts);
    free(key);
    return 0;
  }
  if (argc == 7 && !strcmp(argv[1], "cosmos")) {
    uint8_t *key = NULL;
    size_t kl, at;
    if (wagi_base64_decode_alloc(argv[2], strlen(argv[2]), &key, &kl, &at)) return 2;
    char auth[256];
    if (wagi_az_cosmos_auth(argv[3], argv[4], argv[5], argv[6], key, kl, auth, sizeof auth))
      return 3;
    printf("%s\n", auth);
    free(key);
    return 0;
  }
  if (argc == 5 && !strcmp(argv[1], "egsas")) {
    char *tok = NULL;
    wagi_az_error err;
    if (wagi_az_eventgrid_sas_token(argv[2], strtoll(argv[3], NULL, 10), argv[4], &tok, &err)) {
      fprintf(stderr, "%s\n", err.message);
      return 3;
    }
    printf("%s\n", tok);
    free(tok);
    return 0;
  }
  fprintf(stderr,
          "usage: azsign blob ACCOUNT KEY METHOD PATH QUERY < headers\n"
          "       azsign cosmos KEY VERB TYPE LINK DATE\n"
          "       azsign egsas URL EXPIRES_UNIX KEY\n");
  return 1;
}
