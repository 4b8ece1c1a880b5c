/*
 * unavailable.h: how the gateway's handlers answer a failure of the store or of signing
 * (reply.c). Kept apart from gate_int.h while that file is being reworked; it belongs there.
 *
 * When the store cannot be reached (store_unavailable: PostgreSQL down, SQLite locked past
 * its timeout) the request is not a bug and will work again by itself: 503 with Retry-After
 * (RFC 9110 section 15.6.4) and the "Temporarily unavailable" words (web.h), and one log line
 * "store unavailable: <message>". Anything else: 500 and "access: <what>: <message>". Requests
 * that need no store (an app token verified in memory, the certs) never come here.
 */
#ifndef POSTERN_ACCESS_UNAVAILABLE_H
#define POSTERN_ACCESS_UNAVAILABLE_H

#include "access/gate_int.h"

/* Logs e once as above; true when the store was unreachable. */
bool gate_failure_log(const char *what_z, const struct err *e);
/* For people: the unavailable page (503), or gate_page_error(500, title_z, message_z). */
void gate_page_failure(struct access_gate *g, struct http_req *r, const char *what_z,
                       const struct err *e, const char *title_z, const char *message_z);
/* For machines: {"error": "temporarily unavailable"} (503, Retry-After), or
 * {"error": "server error"} (500). */
void gate_json_failure(struct http_req *r, const char *what_z, const struct err *e);

#endif
