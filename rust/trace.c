// SPDX-License-Identifier: GPL-2.0
/*
 * The mmap_prepare crate's trace events (rmp_trace.h), and the wrappers Rust
 * calls: a trace event is a set of static inlines and macros.
 */
#include "helpers.h"

#define CREATE_TRACE_POINTS
#include "rmp_trace.h"

bool rmp_trace_refusal_enabled(void)
{
	return trace_refusal_enabled();
}
EXPORT_SYMBOL_GPL(rmp_trace_refusal_enabled);

void rmp_trace_refusal(const char *module, const char *reason)
{
	trace_refusal(module, reason);
}
EXPORT_SYMBOL_GPL(rmp_trace_refusal);
