/* SPDX-License-Identifier: ISC */
/*
 * The one source of randomness: the kernel's CSPRNG.
 */
#ifndef AUTH_RNG_H
#define AUTH_RNG_H

#include <stddef.h>

#include "status.h"

/* rng.c */
enum auth_status rng_bytes(void *, size_t);
enum auth_status rng_hex(char *, size_t, size_t);
enum auth_status rng_hex_encode(const void *, size_t, char *, size_t);
int		 rng_hex_value(int);
enum auth_status rng_uniform(unsigned int, unsigned int *);

#endif /* !AUTH_RNG_H */
