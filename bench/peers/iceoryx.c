#include "families.h"
int family_iceoryx(const struct bench_ctx *ctx) { return emit_skip(ctx, "iceoryx", "todo"); }
