/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Internal to libparley: strict UTF-8 validation (RFC 3629), shared by the
 * CBOR encoder and decoder and anything else that must refuse bad text.
 */
#ifndef PARLEY_BASE_UTF8_H
#define PARLEY_BASE_UTF8_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* true when p[0..n) is well-formed UTF-8: no overlong forms, no surrogates,
 * nothing past U+10FFFF. */
bool pl_utf8_is_valid(const uint8_t *p, size_t n);

#endif /* PARLEY_BASE_UTF8_H */
