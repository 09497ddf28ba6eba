/* SPDX-License-Identifier: MIT */
/*
 * shoal/export.h - symbol visibility for the public API.
 *
 * The library is built with -fvisibility=hidden; only functions marked
 * SHOAL_API are exported from libshoal.so.  Internal non-static functions
 * use the shoal__ prefix and stay hidden.
 */
#ifndef SHOAL_EXPORT_H
#define SHOAL_EXPORT_H

#if defined(SHOAL_BUILDING) && !defined(SHOAL_STATIC)
#define SHOAL_API __attribute__((visibility("default")))
#else
#define SHOAL_API
#endif

#endif /* SHOAL_EXPORT_H */
