/* See TargetConditionals.h: declarations only, for `cargo check` of the
 * macOS target on Linux. */
#ifndef STEWARD_STDLIB_H
#define STEWARD_STDLIB_H
#include <stddef.h>
void abort(void) __attribute__((noreturn));
void *malloc(size_t n);
void free(void *p);
#endif
