/* SPDX-License-Identifier: MIT */
/*
 * notify: sd_notify() for the service manager. Each is a no-op when psockd
 * was not started with NOTIFY_SOCKET.
 */
#pragma once

void notify_ready(void);
void notify_reloading(void);
void notify_stopping(void);
void notify_watchdog(void);
void notify_status(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
