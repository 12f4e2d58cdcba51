/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Symbol visibility and attribute macros shared by every public header.
 *
 * libparley is built with -fvisibility=hidden; only declarations marked
 * PL_EXPORT are part of the library's ABI.
 */
#ifndef PARLEY_EXPORT_H
#define PARLEY_EXPORT_H

#if defined(__GNUC__) || defined(__clang__)
#define PL_EXPORT __attribute__((visibility("default")))
#define PL_WUR __attribute__((warn_unused_result))
#define PL_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define PL_EXPORT
#define PL_WUR
#define PL_PRINTF(f, a)
#endif

#endif /* PARLEY_EXPORT_H */
