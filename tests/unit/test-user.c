/* SPDX-License-Identifier: ISC */
/*
 * Unit tests for user.c's identity rule: which stored address an address
 * typed at login (normalised by valid_email_lookup()) names.  The
 * database parts are exercised by the endpoint tests.
 */
#include "config.h"

#include <string.h>

#include "tap.h"
#include "user.h"
#include "valid.h"

struct identity {
	const char	*stored;	/* user.email as the database has it */
	const char	*typed;		/* as the client sent it */
	int		 same;
};

static const struct identity identities[] = {
	{ "bob@example.com", "bob@example.com", 1 },
	{ "Bob.Mixed@Example.com", "bob.mixed@example.com", 1 },
	{ "Bob.Mixed@Example.com", "BOB.MIXED@EXAMPLE.COM", 1 },
	{ "bob@b\xc3\xbc" "cher.de", "bob@b\xc3\xbc" "cher.de", 1 },
	{ "jos\xc3\xa9@example.com", "JOS\xc3\xa9@example.com", 1 },
	/* Folds of utf8mb4_unicode_ci that are not ASCII case. */
	{ "bob@b\xc3\xbc" "cher.de", "bob@bucher.de", 0 },	/* u = ü */
	{ "bob@bucher.de", "bob@b\xc3\xbc" "cher.de", 0 },
	{ "stra\xc3\x9f" "e@x.de", "strasse@x.de", 0 },	/* ss = ß */
	{ "jos\xc3\xa9@example.com", "jose@example.com", 0 },
	{ "JOS\xc3\x89@example.com", "jos\xc3\xa9@example.com", 0 }, /* É */
	{ "bob@example.com ", "bob@example.com", 0 },	/* PAD SPACE */
	{ "bob@example.com", "bob@example.co", 0 },
	{ "bob@example.co", "bob@example.com", 0 },
	{ NULL, NULL, 0 }
};

int
main(void)
{
	char	 email[VALID_EMAIL_LOOKUP_MAX + 1];
	size_t	 i;

	for (i = 0; identities[i].stored != NULL; i++) {
		if (valid_email_lookup(identities[i].typed,
		    strlen(identities[i].typed), email,
		    sizeof(email)) != NULL) {
			tap_ok(0, "identity #%zu: typed address refused", i);
			continue;
		}
		tap_ok(user_email_matches(identities[i].stored,
		    strlen(identities[i].stored), email) == identities[i].same,
		    "identity #%zu: \"%s\" %s the account \"%s\"", i,
		    identities[i].typed, identities[i].same ? "names" :
		    "does not name", identities[i].stored);
	}
	/* The length is the stored value's, not a C string's. */
	tap_ok(user_email_matches("a@b.co\0x", 8, "a@b.co") == 0,
	    "a stored value with a NUL inside is not the address before it");
	tap_ok(user_email_matches("a@b.coXYZ", 6, "a@b.co") == 1,
	    "only storedlen bytes are read");
	tap_ok(user_email_matches(NULL, 0, "a@b.co") == 0 &&
	    user_email_matches("a@b.co", 6, NULL) == 0, "NULL is no match");
	return tap_done();
}
