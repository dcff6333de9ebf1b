/* See TargetConditionals.h: a stand-in for the macOS SDK's header, for
 * `cargo check` of the macOS target on Linux only. */
#ifndef STEWARD_ASSERT_H
#define STEWARD_ASSERT_H
#define assert(e) ((void)0)
#endif
