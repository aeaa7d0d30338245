/* gen_main.c — test tool for the AOT translator: `aot-gen IN.wasm [-o OUT.c]`
 * compiles IN.wasm with the engine (decode, validate) and writes its C
 * translation (wasmi_aot_generate) to OUT.c or stdout. Exit status: 0
 * written, 2 the module does not compile (nothing to translate), 1 any
 * other failure. */
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/file.h"
#include "wasm/aot.h"
#include "wasm/wasm.h"

int main(int argc, char **argv) {
  const char *in = NULL, *outp = NULL;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "-o") && i + 1 < argc) outp = argv[++i];
    else if (!in) in = argv[i];
    else {
      fprintf(stderr, "usage: aot-gen IN.wasm [-o OUT.c]\n");
      return 1;
    }
  }
  if (!in) {
    fprintf(stderr, "usage: aot-gen IN.wasm [-o OUT.c]\n");
    return 1;
  }
  uint8_t *bytes;
  size_t len;
  char ferr[512];
  if (base_read_file(in, (size_t)1 << 30, 0, &bytes, &len, ferr, sizeof ferr) != BASE_FILE_OK) {
    fprintf(stderr, "aot-gen: %s\n", ferr);
    return 1;
  }
  wasm_module *m = NULL;
  wasm_error err;
  if (wasm_module_compile(bytes, len, &m, &err) != WASM_OK) {
    fprintf(stderr, "aot-gen: %s: %s\n", in, err.msg);
    free(bytes);
    return 2;
  }
  uint8_t digest[32];
  SHA256(bytes, len, digest);
  free(bytes);
  char *c = NULL;
  size_t clen = 0;
  if (wasmi_aot_generate(m, digest, getenv("AOT_STRICT_LOADS") != NULL, &c, &clen, &err) !=
      WASM_OK) {
    fprintf(stderr, "aot-gen: %s: %s\n", in, err.msg);
    wasm_module_free(m);
    return 1;
  }
  wasm_module_free(m);
  FILE *f = outp ? fopen(outp, "w") : stdout;
  if (!f || fwrite(c, 1, clen, f) != clen || (outp && fclose(f) != 0)) {
    fprintf(stderr, "aot-gen: cannot write %s\n", outp ? outp : "stdout");
    free(c);
    return 1;
  }
  free(c);
  return 0;
}
