/* SPDX-License-Identifier: MIT */
/*
 * shoal/shoal.h - everything public in one include.
 */
#ifndef SHOAL_SHOAL_H
#define SHOAL_SHOAL_H

#include <shoal/actor.h>
#include <shoal/error.h>
#include <shoal/export.h>
#include <shoal/id.h>
#include <shoal/queue.h>
#include <shoal/runtime.h>
#include <shoal/store.h>
#include <shoal/version.h>

#endif /* SHOAL_SHOAL_H */
