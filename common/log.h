/* SPDX-License-Identifier: ISC */
/*
 * One line per event on stderr, which Apache and lighttpd put into their
 * error log:  prog[pid]: level: event key=value ...
 */
#ifndef AUTH_LOG_H
#define AUTH_LOG_H

#include <stdarg.h>

enum log_level {
	LOG_LEVEL_INFO,
	LOG_LEVEL_WARN,
	LOG_LEVEL_ERR,
	LOG_LEVEL__MAX
};

/* log.c */
void	 log_init(const char *);
int	 log_open(const char *);
void	 log_syslog(void);
void	 log_msg(enum log_level, const char *, const char *, ...)
		__attribute__((format(printf, 3, 4)));
void	 log_vmsg(enum log_level, const char *, const char *, va_list)
		__attribute__((format(printf, 3, 0)));
#define log_info(ev, ...)	log_msg(LOG_LEVEL_INFO, (ev), __VA_ARGS__)
#define log_warn(ev, ...)	log_msg(LOG_LEVEL_WARN, (ev), __VA_ARGS__)
#define log_err(ev, ...)	log_msg(LOG_LEVEL_ERR, (ev), __VA_ARGS__)
size_t	 log_escape(char *, size_t, const char *);

#endif /* !AUTH_LOG_H */
