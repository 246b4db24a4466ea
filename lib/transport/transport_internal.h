/*
 * lib/transport private helpers: monotonic deadlines and blocking I/O with a timeout on a file
 * descriptor (sockets, serial devices), shared by the socket and AT+CSIM transports.
 */
#ifndef SGP32_TRANSPORT_INTERNAL_H
#define SGP32_TRANSPORT_INTERNAL_H

#include <stdint.h>

#include "sgp32/apdu_transport.h"
#include "sgp32/log.h"

int64_t sgp32_transport_now_ms(void);
/* Milliseconds left until deadline (>= 0). */
int sgp32_transport_left_ms(int64_t deadline);
/* Write all of data before deadline: SGP32_OK, SGP32_ERR_TRANSPORT_TIMEOUT, _CLOSED or _CONNECT... */
int sgp32_transport_write_all(int fd, const uint8_t *data, size_t len, int64_t deadline);
/* Read exactly len bytes before deadline (SGP32_ERR_TRANSPORT_CLOSED on end of file). */
int sgp32_transport_read_exact(int fd, uint8_t *data, size_t len, int64_t deadline);
/* Read what is there (at least one byte) before deadline; *got set. */
int sgp32_transport_read_some(int fd, uint8_t *data, size_t cap, size_t *got, int64_t deadline);
/* Copy bytes into a buffer that is reset first. */
int sgp32_transport_set_buf(sgp32_buf *buf, const uint8_t *data, size_t len);

#endif
