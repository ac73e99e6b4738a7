/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Trace events of the mmap_prepare crate: every refusal of a driver's request,
 * with the driver's module and the reason. The log line of a refusal is rate
 * limited (rust/log.rs); the event is not, so a driver author who wants every
 * reason enables it:
 *
 *   echo 1 > /sys/kernel/tracing/events/mmap_prepare/refusal/enable
 *   cat /sys/kernel/tracing/trace_pipe
 */
#undef TRACE_SYSTEM
#define TRACE_SYSTEM mmap_prepare

#if !defined(_RMP_TRACE_H) || defined(TRACE_HEADER_MULTI_READ)
#define _RMP_TRACE_H

#include <linux/tracepoint.h>

TRACE_EVENT(refusal,
	    TP_PROTO(const char *module, const char *reason),
	    TP_ARGS(module, reason),
	    TP_STRUCT__entry(__string(module, module)
			     __string(reason, reason)),
	    TP_fast_assign(__assign_str(module);
			   __assign_str(reason);),
	    TP_printk("%s: %s", __get_str(module), __get_str(reason))
);

#endif /* _RMP_TRACE_H */

/* The header is outside include/trace/events: say where it is. */
#undef TRACE_INCLUDE_PATH
#define TRACE_INCLUDE_PATH .
#undef TRACE_INCLUDE_FILE
#define TRACE_INCLUDE_FILE rmp_trace
#include <trace/define_trace.h>
