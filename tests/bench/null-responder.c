/* SPDX-License-Identifier: ISC */
/*
 * The benchmark's first ceiling: a FastCGI responder that answers every
 * request at once with a constant, reading nothing.  What it reaches
 * behind a web server is the most any program can reach there: the cost
 * of the web server and of FastCGI itself.
 */
#include "config.h"

#include <fcgiapp.h>

int
main(void)
{
	static const char	 answer[] =
	    "Status: 200 OK\r\n"
	    "Content-Type: application/json\r\n"
	    "Content-Length: 2\r\n"
	    "\r\n"
	    "{}";
	FCGX_Request		 r;

	if (FCGX_Init() != 0 || FCGX_InitRequest(&r, 0, 0) != 0)
		return 1;
	while (FCGX_Accept_r(&r) >= 0) {
		(void)FCGX_PutStr(answer, (int)sizeof(answer) - 1, r.out);
		FCGX_Finish_r(&r);
	}
	FCGX_Free(&r, 1);
	return 0;
}
