/* SPDX-License-Identifier: MIT */
/*
 * tools/cli/json.h - a tiny streaming JSON writer for the shoal command.
 *
 * One document at a time onto a FILE: objects and arrays nest up to
 * JSON_DEPTH levels, commas are placed by the writer, keys are given with
 * each value inside an object (NULL inside an array and at the top).
 * Strings are escaped as RFC 8259 asks (quote, backslash, control
 * characters) and bytes that are not valid UTF-8 (names come from the
 * segment, which anyone may have written) become U+FFFD, so that every
 * document parses.  Nothing is allocated; misuse past JSON_DEPTH is
 * ignored rather than crash (the document is then malformed).
 */
#ifndef SHOAL_CLI_JSON_H
#define SHOAL_CLI_JSON_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define JSON_DEPTH 16

struct json {
	FILE *f;
	int depth;
	bool more[JSON_DEPTH]; /* a value was written at this level */
};

void json_init(struct json *j, FILE *f);
void json_obj(struct json *j, const char *key);   /* { */
void json_arr(struct json *j, const char *key);   /* [ */
void json_end_obj(struct json *j);                /* } */
void json_end_arr(struct json *j);                /* ] */
void json_str(struct json *j, const char *key, const char *v);
void json_u64(struct json *j, const char *key, uint64_t v);
void json_i64(struct json *j, const char *key, int64_t v);
void json_num(struct json *j, const char *key, double v);
void json_bool(struct json *j, const char *key, bool v);
void json_null(struct json *j, const char *key);
/* Ends the document with a newline and flushes. */
void json_done(struct json *j);

#endif /* SHOAL_CLI_JSON_H */
