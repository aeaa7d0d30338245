/* response.h — turning a guest's stdout into the HTTP response
 * (docs/modules.md §Output)
 * with the wagi-c fixes: an explicit Status wins over Location, repeated
 * headers are all kept (several Set-Cookie), a header value outside visible
 * ASCII/SP/HTAB gives 500 (never a dropped connection), a header name that is
 * not an HTTP token is dropped with a warning.
 *
 * Call srv_response_parse only when the entrypoint returned normally (or
 * called proc_exit(0)); every other outcome of docs/server.md §Failures
 * (trap, missing export, non-zero exit, instantiation failure) is a 500
 * with a short plain-text reason that the server core produces itself
 * (srv_status_text).
 *
 * The HTTP layer adds Content-Length and Date; the parser therefore drops
 * Content-Length, Transfer-Encoding and Connection lines written by the
 * module (with a warning) so that they can never contradict the framing,
 * and Date (with a warning too): the server's clock dates its responses.
 *
 * Edge cases (README, "The server"): an empty header value is kept; a
 * Status number outside 100..999 ("99", "1000") is a module error (500),
 * a Status that is no number at all stays WAGI's 502; output without the
 * blank line after its headers is all body, hence a 500 with a warning
 * that says the blank line is missing.
 */
#ifndef WAGI_SRV_RESPONSE_H
#define WAGI_SRV_RESPONSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Body of the 500 sent when no Content-Type, Location or Status is given. */
#define SRV_RESPONSE_MSG_NO_CT "Exactly one of 'location' or 'content-type' must be specified"
/* Body of the other 500s for output the server cannot send: header block
 * not UTF-8, a header value outside visible ASCII/SP/HTAB, a Status
 * number outside 100..999. */
#define SRV_RESPONSE_MSG_BAD                                                                       \
  "500 Internal Server Error: the module's response headers are invalid; see the server log\n"

typedef struct {
  char *name;  /* as the module spelled it (trimmed), NUL-terminated */
  char *value; /* trimmed, NUL-terminated, only visible ASCII/SP/HTAB */
} srv_resp_header;

typedef struct {
  int status;               /* status to send (100-999) */
  srv_resp_header *headers; /* to send, in output order; Status is not
                               among them; Content-Type and Location at
                               most once (last one written wins) */
  size_t n_headers;
  const uint8_t *body; /* borrowed: points into the `out` given to
                          srv_response_parse, or to static text */
  size_t body_len;
  char *warnings; /* NULL, or newline-separated sentences to log
                     (dropped header names, why it is a 500/502) */
  bool refused;   /* the module's output was refused: a 500 whose body is
                     one of the texts above (plain text), no module header */
} srv_response;

/* Parses `len` bytes of guest stdout into *r. Always fills *r,
 * with a status of 200/302/the module's, or 500/502 (docs/server.md §Failures); r->body stays
 * valid as long as `out`. Returns 0, or -1 on allocation failure (then *r is
 * a 500 with SRV_RESPONSE_MSG_BAD and nothing to free). Free with srv_response_free. */
int srv_response_parse(const uint8_t *out, size_t len, srv_response *r);

/* Frees the headers and warnings of *r (the body is borrowed) and zeroes it. */
void srv_response_free(srv_response *r);

#ifdef __cplusplus
}
#endif
#endif
