/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Internal to lib/transcript: the text rules that signed notes, checkpoints
 * and cosignatures share (UTF-8, control characters, key names) and the
 * cosignature/v1 message header.  Not part of the public API.
 */
#ifndef PARLEY_LIB_TRANSCRIPT_TEXT_H
#define PARLEY_LIB_TRANSCRIPT_TEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Longest "cosignature/v1\ntime <int64>\n" header, without NUL. */
#define PL_TX_COSIG_HDR_MAX 40

/* n bytes at p are valid UTF-8 (no overlong forms, no surrogates, at most
 * U+10FFFF) and contain no control character (below U+0020) but '\n'.
 * On false, *bad (if not NULL) receives the offset of the first bad byte. */
bool pl_tx_text_is_clean(const uint8_t *p, size_t n, size_t *bad);

/* n bytes at p are a valid key name: 1..PL_NOTE_NAME_MAX bytes of clean
 * UTF-8 with neither Unicode white space nor '+' (nor '\n'). */
bool pl_tx_name_is_valid(const uint8_t *p, size_t n);

/* n bytes at p are only characters of the standard base64 alphabet and '='.
 * (Checked before pl_b64_decode, which lets some bytes >= 0x80 through.) */
bool pl_tx_is_b64_alphabet(const char *p, size_t n);

/* Write "cosignature/v1\ntime <t>\n" (t >= 0) to out; returns its length. */
size_t pl_tx_cosig_header(char out[PL_TX_COSIG_HDR_MAX + 1], int64_t t);

#endif /* PARLEY_LIB_TRANSCRIPT_TEXT_H */
