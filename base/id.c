/* SPDX-License-Identifier: MIT */
/*
 * base/id.c - object IDs: derivation, random IDs, hex text.
 *
 * Layout of an ID (id.h): hi = node:16 | index:16 | owner:32, lo = counter.
 * Random IDs keep the node field 0.
 */
#include <errno.h>
#include <sys/random.h>

#include <shoal/id.h>

SHOAL_API shoal_id shoal_id_derive(uint16_t node, uint32_t owner,
				   uint64_t counter, uint16_t index)
{
	shoal_id id = {
		.hi = ((uint64_t)node << 48) | ((uint64_t)index << 32) | owner,
		.lo = counter,
	};
	return id;
}

SHOAL_API int shoal_id_random(shoal_id *out)
{
	shoal_id id;

	if (!out)
		return -EINVAL;
	do {
		if (getrandom(&id, sizeof id, 0) != (ssize_t)sizeof id)
			return errno ? -errno : -EIO;
		id.hi &= ~(0xffffull << 48);
	} while (shoal_id_is_nil(id));
	*out = id;
	return 0;
}

static void shoal__hex64(uint64_t v, char *out)
{
	static const char digits[] = "0123456789abcdef";

	for (int i = 15; i >= 0; i--, v >>= 4)
		out[i] = digits[v & 0xf];
}

SHOAL_API void shoal_id_format(shoal_id id, char buf[SHOAL_ID_HEX_LEN + 1])
{
	shoal__hex64(id.hi, buf);
	shoal__hex64(id.lo, buf + 16);
	buf[SHOAL_ID_HEX_LEN] = '\0';
}

static int shoal__hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static int shoal__parse64(const char *text, uint64_t *out)
{
	uint64_t v = 0;

	for (int i = 0; i < 16; i++) {
		int d = shoal__hexval(text[i]);
		if (d < 0)
			return -EINVAL;
		v = (v << 4) | (uint64_t)d;
	}
	*out = v;
	return 0;
}

SHOAL_API int shoal_id_parse(const char *text, shoal_id *out)
{
	shoal_id id;
	size_t n = 0;

	if (!text || !out)
		return -EINVAL;
	while (n <= SHOAL_ID_HEX_LEN && text[n])
		n++;
	if (n != SHOAL_ID_HEX_LEN)
		return -EINVAL;
	if (shoal__parse64(text, &id.hi) || shoal__parse64(text + 16, &id.lo))
		return -EINVAL;
	*out = id;
	return 0;
}
