#include "families.h"
int family_redis(const struct bench_ctx *ctx) { return emit_skip(ctx, "redis", "todo"); }
