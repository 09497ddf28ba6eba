#include "families.h"
int family_zmq(const struct bench_ctx *ctx) { return emit_skip(ctx, "zmq", "todo"); }
