/* The one macOS SDK header ring's C code includes, reduced to the macros it
 * reads, so `cargo check --target x86_64-apple-darwin` can run ring's build
 * script on Linux with clang (-ffreestanding: clang's own stdint.h). Only
 * for that check: the real macOS build uses Xcode's SDK. */
#ifndef STEWARD_TARGET_CONDITIONALS_H
#define STEWARD_TARGET_CONDITIONALS_H
#define TARGET_OS_MAC 1
#define TARGET_OS_OSX 1
#define TARGET_OS_IPHONE 0
#define TARGET_OS_IOS 0
#define TARGET_OS_TV 0
#define TARGET_OS_WATCH 0
#define TARGET_OS_SIMULATOR 0
#endif
