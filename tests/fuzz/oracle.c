/* SPDX-License-Identifier: ISC */
/*
 * The fuzz targets' fake web server and their independent checks (see
 * oracle.h).  Nothing here calls the code under test to decide what is
 * right: each check is written from the RFC or the documented contract.
 */
#include "config.h"

#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "log.h"
#include "req.h"
#include "oracle.h"

/*
 * Print why a property broke and abort: libFuzzer keeps the input.
 */
void
oracle_fail(const char *fmt, ...)
{
	va_list	 ap;

	(void)fputs("property broken: ", stderr);
	va_start(ap, fmt);
	(void)vfprintf(stderr, fmt, ap);
	va_end(ap);
	(void)fputc('\n', stderr);
	abort();
}

static const char *
oracle_io_param(void *arg, const char *name)
{

	return oracle_io_get(arg, name);
}

static long
oracle_io_read(void *arg, char *buf, size_t n)
{
	struct oracle_io	*f = arg;

	if (f->fail_at != 0 && f->pos >= f->fail_at)
		return -1;
	if (f->chunk != 0 && n > f->chunk)
		n = f->chunk;
	if (n > f->bodylen - f->pos)
		n = f->bodylen - f->pos;
	memcpy(buf, f->body + f->pos, n);
	f->pos += n;
	return (long)n;
}

static int
oracle_io_write(void *arg, const char *buf, size_t n)
{
	struct oracle_io	*f = arg;

	f->writes++;
	if (n >= sizeof(f->out) - f->outlen) {
		f->overflow = 1;
		return -1;
	}
	memcpy(f->out + f->outlen, buf, n);
	f->outlen += n;
	f->out[f->outlen] = '\0';
	return 0;
}

/*
 * Empty f (no parameters, no body) and point io at it.
 */
void
oracle_io_init(struct oracle_io *f, struct req_io *io)
{

	memset(f, 0, sizeof(*f));
	io->param = oracle_io_param;
	io->read = oracle_io_read;
	io->write = oracle_io_write;
	io->arg = f;
}

/*
 * Add the parameter name=value (both borrowed).  Returns 0, or -1 when
 * f is full.
 */
int
oracle_io_add(struct oracle_io *f, const char *name, const char *value)
{

	if (f->nparams == ORACLE_PARAMS_MAX)
		return -1;
	f->names[f->nparams] = name;
	f->values[f->nparams] = value;
	f->nparams++;
	return 0;
}

/*
 * Return the first value of parameter name, or NULL.
 */
const char *
oracle_io_get(const struct oracle_io *f, const char *name)
{
	size_t	 i;

	for (i = 0; i < f->nparams; i++)
		if (strcmp(f->names[i], name) == 0)
			return f->values[i];
	return NULL;
}

/*
 * Check that s (len bytes) is the body of an error answer of status:
 * {"detail": "text"}, or for 422 {"detail": [{"loc": ["body", ...],
 * "msg": "text", "type": "text"}, ...]} with at least one entry.
 */
static void
oracle_detail(int status, struct json_object *o)
{
	struct json_object	*d, *e, *v, *loc;
	size_t			 i, n;

	if (!json_object_object_get_ex(o, "detail", &d))
		oracle_fail("status %d without detail", status);
	if (status != 422) {
		if (!json_object_is_type(d, json_type_string))
			oracle_fail("status %d: detail not a string", status);
		return;
	}
	if (!json_object_is_type(d, json_type_array) ||
	    (n = json_object_array_length(d)) == 0)
		oracle_fail("422: detail not a non-empty array");
	for (i = 0; i < n; i++) {
		e = json_object_array_get_idx(d, i);
		if (!json_object_is_type(e, json_type_object) ||
		    !json_object_object_get_ex(e, "loc", &loc) ||
		    !json_object_is_type(loc, json_type_array) ||
		    json_object_array_length(loc) < 1 ||
		    strcmp(json_object_get_string(
		    json_object_array_get_idx(loc, 0)), "body") != 0)
			oracle_fail("422: entry %zu has no loc [\"body\"...]",
			    i);
		if (!json_object_object_get_ex(e, "msg", &v) ||
		    !json_object_is_type(v, json_type_string) ||
		    !json_object_object_get_ex(e, "type", &v) ||
		    !json_object_is_type(v, json_type_string))
			oracle_fail("422: entry %zu lacks msg or type", i);
	}
}

/*
 * Check that what the program wrote to f is exactly one complete
 * response: "Status: NNN reason", header lines each ending in CRLF, the
 * four headers every answer carries, an empty line, then a body of
 * exactly Content-Length bytes that is one strict JSON object (with a
 * "detail" for errors); for HEAD no body at all (RFC 9110, 9.3.2: the
 * headers are GET's), and r->json NULL.  Fill *r; abort on anything
 * else.
 */
void
oracle_response(const struct oracle_io *f, struct oracle_resp *r)
{
	struct json_tokener	*tok;
	const char		*p, *end, *eol, *body;
	size_t			 blen, clen = 0;
	int			 ctype = 0, clenseen = 0, cache = 0;
	int			 nosniff = 0;
	char			*e;
	unsigned long		 v;
	const char		*method;
	int			 head;

	memset(r, 0, sizeof(*r));
	method = oracle_io_get(f, "REQUEST_METHOD");
	head = method != NULL && strcmp(method, "HEAD") == 0;
	if (f->overflow || f->writes == 0)
		oracle_fail("no response, or one too long (%zu writes)",
		    f->writes);
	if (strlen(f->out) != f->outlen)
		oracle_fail("NUL byte in the response");
	if ((body = strstr(f->out, "\r\n\r\n")) == NULL)
		oracle_fail("response without an end of headers");
	end = body + 2;
	body += 4;
	blen = f->outlen - (size_t)(body - f->out);

	if (strncmp(f->out, "Status: ", 8) != 0 ||
	    f->out[8] < '1' || f->out[8] > '5' ||
	    f->out[9] < '0' || f->out[9] > '9' ||
	    f->out[10] < '0' || f->out[10] > '9' || f->out[11] != ' ')
		oracle_fail("response does not start with a status line");
	r->status = (f->out[8] - '0') * 100 + (f->out[9] - '0') * 10 +
	    (f->out[10] - '0');
	for (p = f->out; p < end; p = eol + 2) {
		eol = strstr(p, "\r\n");
		if (memchr(p, '\n', (size_t)(eol - p)) != NULL ||
		    memchr(p, '\r', (size_t)(eol - p)) != NULL)
			oracle_fail("bare CR or LF in the headers");
		if (p == f->out)
			continue;
		if (memchr(p, ':', (size_t)(eol - p)) == NULL)
			oracle_fail("header line without a colon");
		if (strncmp(p, "Content-Type: application/json\r\n", 32) == 0)
			ctype++;
		else if (strncmp(p, "Cache-Control: no-store\r\n", 25) == 0)
			cache++;
		else if (strncmp(p, "X-Content-Type-Options: nosniff\r\n",
		    33) == 0)
			nosniff++;
		else if (strncmp(p, "Allow: POST\r\n", 13) == 0)
			r->allow_post = 1;
		else if (strncmp(p, "Content-Length: ", 16) == 0) {
			clenseen++;
			v = strtoul(p + 16, &e, 10);
			if (e != eol || e == p + 16)
				oracle_fail("bad Content-Length header");
			clen = v;
		}
	}
	if (ctype != 1 || clenseen != 1 || cache != 1 || nosniff != 1)
		oracle_fail("status %d: a required header missing or twice",
		    r->status);
	if (head) {
		if (blen != 0)
			oracle_fail("HEAD answered with %zu body bytes", blen);
		return;
	}
	if (clen != blen)
		oracle_fail("Content-Length %zu, body %zu bytes: not exactly "
		    "one response", clen, blen);

	if ((tok = json_tokener_new()) == NULL)
		abort();
	json_tokener_set_flags(tok,
	    JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
	r->json = json_tokener_parse_ex(tok, body, (int)blen);
	if (json_tokener_get_error(tok) != json_tokener_success ||
	    json_tokener_get_parse_end(tok) != blen ||
	    !json_object_is_type(r->json, json_type_object))
		oracle_fail("status %d: body is not one JSON object",
		    r->status);
	json_tokener_free(tok);
	if (r->status >= 400)
		oracle_detail(r->status, r->json);
}

void
oracle_resp_free(struct oracle_resp *r)
{

	json_object_put(r->json);
	memset(r, 0, sizeof(*r));
}

/*
 * Return 1 if the n bytes at s cannot be a JSON object in UTF-8
 * (RFC 8259) for reasons a byte scan shows: a control character in a
 * string, or between tokens one other than tab, LF and CR; a byte that
 * never occurs in UTF-8 (RFC 3629, 4: C0, C1, F5 to FF); a lead byte
 * followed by a byte that makes an overlong form, a surrogate or a code
 * point above U+10FFFF; or a first or last token other than the braces.
 * Return 0 if the scan finds nothing (which does not make it valid).
 */
int
oracle_json_refused(const char *s, size_t n)
{
	static const struct {
		unsigned char	 lead, lo, hi;	/* forbidden second bytes */
	} pairs[] = {
		{ 0xe0, 0x80, 0x9f },	/* overlong */
		{ 0xed, 0xa0, 0xbf },	/* surrogates */
		{ 0xf0, 0x80, 0x8f },	/* overlong */
		{ 0xf4, 0x90, 0xbf },	/* above U+10FFFF */
	};
	const unsigned char	*u = (const unsigned char *)s;
	size_t			 i, k, first, last;
	int			 str = 0, esc = 0;

	for (i = 0; i < n; i++) {
		if (u[i] < 0x20 && (str || strchr("\t\n\r", u[i]) == NULL ||
		    u[i] == '\0'))
			return 1;
		if (u[i] == 0xc0 || u[i] == 0xc1 || u[i] >= 0xf5)
			return 1;
		for (k = 0; k < sizeof(pairs) / sizeof(pairs[0]); k++)
			if (i + 1 < n && u[i] == pairs[k].lead &&
			    u[i + 1] >= pairs[k].lo && u[i + 1] <= pairs[k].hi)
				return 1;
		if (esc)
			esc = 0;
		else if (str && u[i] == '\\')
			esc = 1;
		else if (u[i] == '"')
			str = !str;
	}
	for (first = 0; first < n && strchr(" \t\r\n", s[first]) != NULL &&
	    s[first] != '\0'; first++)
		continue;
	for (last = n; last > first && strchr(" \t\r\n", s[last - 1]) !=
	    NULL && s[last - 1] != '\0'; last--)
		continue;
	return first == last || s[first] != '{' || s[last - 1] != '}';
}

/*
 * Return the largest number of objects and arrays around any value (or
 * member name) in the n bytes at s, brackets in strings left out.  This
 * is what json-c's depth limit bounds: "[]" may sit at the limit, where
 * "[1]" may not, since its 1 is one level deeper.
 */
size_t
oracle_json_depth(const char *s, size_t n)
{
	size_t	 i, depth = 0, max = 0;
	int	 str = 0;

	for (i = 0; i < n; i++) {
		if (str) {
			if (s[i] == '\\')
				i++;
			else if (s[i] == '"')
				str = 0;
			continue;
		}
		if (strchr(" \t\r\n,:]}", s[i]) == NULL && depth > max)
			max = depth;	/* a value or name starts here */
		switch (s[i]) {
		case '"':
			str = 1;
			break;
		case '{':
		case '[':
			depth++;
			break;
		case '}':
		case ']':
			if (depth > 0)
				depth--;
			break;
		default:
			break;
		}
	}
	return max;
}

/*
 * Return 1 if s is an IPv4 or IPv6 address in the canonical form
 * inet_ntop() writes (RFC 5952 for IPv6), else 0.
 */
int
oracle_address(const char *s)
{
	unsigned char	 a[16];
	char		 buf[INET6_ADDRSTRLEN];
	int		 af;

	if (inet_pton(AF_INET, s, a) == 1)
		af = AF_INET;
	else if (inet_pton(AF_INET6, s, a) == 1)
		af = AF_INET6;
	else
		return 0;
	return inet_ntop(af, a, buf, sizeof(buf)) != NULL &&
	    strcmp(buf, s) == 0;
}

/*
 * Return 1 if s holds a control character (below 0x20, or DEL), else 0.
 */
int
oracle_control(const char *s)
{

	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s == 0x7f)
			return 1;
	return 0;
}

/*
 * libFuzzer calls this once, before the first input: the library's log
 * lines go to /dev/null (millions of them would only slow the fuzzer
 * down), then the target's own oracle_setup() runs if it has one.
 */
int
LLVMFuzzerInitialize(int *argc, char ***argv)
{

	(void)argc;
	(void)argv;
	if (log_open("/dev/null") == -1)
		abort();
	if (oracle_setup != NULL)
		oracle_setup();
	return 0;
}
